"""Everything that runs off the GUI thread: model loading, acquisition, inference, training, evaluation."""
