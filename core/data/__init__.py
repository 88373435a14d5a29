"""Image loading, dataset layouts, low-light synthesis and synthetic defects."""
