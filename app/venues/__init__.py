"""Trading venues behind one small interface; the ones shipped are simulated."""
