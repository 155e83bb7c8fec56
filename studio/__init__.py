"""World-model studio: explore and probe the latent spaces of world models learnt from video games."""
