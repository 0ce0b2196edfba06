#include <libkmod.h>
