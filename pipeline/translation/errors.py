"""Why translation cannot start or go on; every message says what to fix."""


class TranslationError(Exception):
    pass


class ModelNotFound(TranslationError):
    pass


class MissingLanguageTokens(TranslationError):
    pass


class UnknownLanguage(TranslationError):
    """A language code that is not in the Language table."""
