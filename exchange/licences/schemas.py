"""API schemas of express licences."""

from exchange.kernel.schemas import InputStruct, Sha256


class LicenceIn(InputStruct, kw_only=True):
    """Take the offer's express licence on the terms shown: their licence_terms_sha256, as the offer serves it."""

    terms_sha256: Sha256
