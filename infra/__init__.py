"""Diarist's AWS CDK infrastructure: the ``DiaristService`` construct and the stack ``app.py`` deploys.

Not part of the ``diarist`` wheel: it lives at the repository root next to ``functions/`` and
``containers/``, whose files it packages. See docs/deploy.md.
"""
