// HMMKernel: placeholder until the layer lands.
