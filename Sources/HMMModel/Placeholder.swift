// HMMModel: placeholder until the layer lands.
