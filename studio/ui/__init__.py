"""The Gradio studio: one module per tab, plus the state they share."""
