from core.domain import Language
from core.errors import ErrorKind
from core.i18n import Translator


def test_every_message_exists_in_every_language_with_the_same_fields() -> None:
    t = Translator()
    for key in t.known_keys():
        english = t.fields(key, Language.EN)
        for lang in Language:
            assert t.fields(key, lang) == english, key


def test_every_error_kind_has_a_message() -> None:
    t = Translator()
    for kind in ErrorKind:
        assert f"error.{kind.value}" in t.known_keys()


def test_chinese_messages_are_chinese() -> None:
    t = Translator()
    for key in t.known_keys():
        zh = t(Language.ZH, key, **dict.fromkeys(t.fields(key, Language.ZH), "x"))
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), key


def test_language_codes_from_platforms() -> None:
    assert Language.from_code("zh-hans") is Language.ZH
    assert Language.from_code("zh_CN") is Language.ZH
    assert Language.from_code("en-US") is Language.EN
    assert Language.from_code("de") is None
    assert Language.from_code(None) is None
