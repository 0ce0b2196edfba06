// HMMSuite: placeholder until the layer lands.
