"""Record linkage across agencies and borders, in plain text or on Bloom-filter encodings."""
