// HMMVM: placeholder until the layer lands.
