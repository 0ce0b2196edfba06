print("hmmkit: placeholder")
