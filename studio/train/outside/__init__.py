"""World models that no one here wrote, installed from PyPI (the `outside` extra), each trained briefly on the
recorded Breakout gameplay with its own code and wrapped into the studio's graph shapes for the public exporter:
one module per model, and the Breakout windows they share."""
