// KTAP: placeholder until the layer lands.
