"""genaisys.datasets: the data definitions that training and evaluation share, below both.

Training (`genaisys.train`) makes records from these sets and evaluation (`genaisys.eval`) asks
them; neither imports the other, so what both need lives here:

- ``shapes.py``       the shapes vocabulary (3 shapes, 8 colours with their RGB), the shape renderer
                      and the shape-decoder prompts
- ``shape_oracle.py`` a classical-vision judge of single-shape images (colour and shape)
- ``easy_vqa.py``     the packaged easy-VQA set: questions, image paths, per-image attributes, the
                      prompt suffix both sides use
- ``pope.py``         POPE objects, absent-object sampling and the probe prompt
- ``heldout/``        the held-out evaluation's material (requests, questions, documents) and
                      `material`, which the training side's overlap check reads

Modules here import numpy and PIL at most; nothing heavy.

Example:
    >>> from genaisys.datasets.easy_vqa import COLORS, SHAPES
    >>> len(COLORS) * len(SHAPES)
    24
"""
