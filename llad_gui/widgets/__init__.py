"""Widgets of the inspection workstation: one widget a file, layout only; pages wire them to the state."""
