"""The UI's words: Chinese first, English on request, values filled in, unknown keys loud."""

from __future__ import annotations

import pytest

from dashboards.i18n import DEFAULT_LANGUAGE, MESSAGES, language, t


def test_chinese_is_the_default_and_english_is_one_switch_away() -> None:
    assert DEFAULT_LANGUAGE == "zh"
    assert t("nav.registration") == "去向登记"
    assert t("nav.registration", "en") == "Whereabouts"
    assert t("status.failing", "zh", count=3) == "3 项数据质量检查未通过"
    assert t("status.as_of", "en", moment="2026-11-02 10:00") == "Data as of 2026-11-02 10:00"


def test_every_message_has_both_languages() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == {"zh", "en"}, key
        assert all(text.strip() for text in texts.values()), key


def test_an_unknown_language_falls_back_to_chinese_and_an_unknown_key_fails() -> None:
    assert t("nav.turnaround", "fr") == "办理效能"
    assert language("en") == "en"
    assert language("<script>") == "zh"
    assert language(None) == "zh"
    with pytest.raises(KeyError):
        t("nav.no-such-page")
