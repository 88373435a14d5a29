"""Pages of the main window: Inspect, Train, Evaluate, Log (one class each, constructed as ``Page(state)``)."""
