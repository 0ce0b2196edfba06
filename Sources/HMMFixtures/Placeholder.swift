// HMMFixtures: placeholder until the layer lands.
