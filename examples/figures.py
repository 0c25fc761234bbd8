"""What the docs' figures share: where they go, and the digest that dates them.

Each figure script writes its PNG with a digest of everything it draws from
(its own source, and the table rows it reads) in the PNG's metadata.
`tests/test_figures.py` recomputes the digests, so that a figure whose code
or data changed without `make figures` fails `make test`.
"""

import hashlib
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
DIGEST_KEY = "Source digest"


def digest(*paths, data=""):
    """The SHA-256 of the files' contents, in order, then of `data`, as hex."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(pathlib.Path(path).read_bytes())
    sha.update(data.encode())
    return sha.hexdigest()


def save(fig, path, source_digest):
    """Saves `fig` as a PNG that records `source_digest`."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No date or software version in the metadata: the same inputs give the
    # same metadata, whichever machine drew the figure.
    metadata = {DIGEST_KEY: source_digest, "Software": None}
    fig.savefig(path, dpi=110, metadata=metadata)
    return path


def read_digest(path):
    """The digest a PNG written by `save` records, or None."""
    from PIL import Image

    with Image.open(path) as image:
        return image.info.get(DIGEST_KEY)
