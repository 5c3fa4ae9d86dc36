import pytest

from core.access import (
    DISCORD,
    TELEGRAM,
    AccessEntryError,
    AccessPolicy,
    Party,
    check_id_list,
    check_platform_list,
    check_shared_list,
)

ANN = Party("11", "Ann")
BOB = Party("12", None)
GROUP = Party("-100500", "friends_chat")
DM = Party("11")


def test_no_lists_means_open_to_everyone() -> None:
    policy = AccessPolicy(TELEGRAM)
    assert policy.allows(BOB, DM)
    assert policy.may_change_settings(BOB, shared=True)


def test_users_match_by_id_or_case_insensitive_username() -> None:
    assert AccessPolicy(TELEGRAM, allowed_users=["@ann"]).allows(ANN, DM)
    assert AccessPolicy(TELEGRAM, allowed_users=["12"]).allows(BOB, DM)
    assert not AccessPolicy(TELEGRAM, allowed_users=["@ann"]).allows(BOB, DM)


def test_a_listed_chat_admits_everyone_in_it_and_only_there() -> None:
    policy = AccessPolicy(TELEGRAM, allowed_chats=["@Friends_Chat"])
    assert policy.allows(BOB, GROUP)
    assert not policy.allows(BOB, Party("12"))
    assert AccessPolicy(TELEGRAM, allowed_chats=["-100500"]).allows(BOB, GROUP)


def test_admins_are_always_allowed_and_alone_change_shared_settings() -> None:
    policy = AccessPolicy(TELEGRAM, allowed_users=["@someone"], admins=["12"])
    assert policy.allows(BOB, DM)
    assert policy.may_change_settings(BOB, shared=True)
    assert not policy.may_change_settings(ANN, shared=True)
    assert policy.may_change_settings(ANN, shared=False)


def test_a_listed_role_admits_its_members_anywhere_by_id_only() -> None:
    policy = AccessPolicy(DISCORD, allowed_roles=["555"])
    assert policy.allows(BOB, GROUP, roles=["555"])
    assert not policy.allows(BOB, GROUP, roles=["777"])
    assert not policy.allows(BOB, GROUP, roles=["admin"])
    assert not policy.allows(BOB, GROUP)
    with pytest.raises(AccessEntryError, match="ids only"):
        AccessPolicy(DISCORD, allowed_roles=["@helpers"])


def test_any_of_several_places_may_be_listed() -> None:
    policy = AccessPolicy(TELEGRAM, allowed_chats=["-100500"])
    thread, parent = Party("9"), Party("-100500")
    assert policy.allows(BOB, thread, parent)
    assert not policy.allows(BOB, thread)


def test_a_prefixed_entry_matches_only_on_its_platform() -> None:
    admins = ["telegram:@Ann", "discord:@bob", "discord:99"]
    on_telegram, on_discord = (
        AccessPolicy(TELEGRAM, admins=admins),
        AccessPolicy(DISCORD, admins=admins),
    )
    assert on_telegram.is_admin(ANN)
    assert not on_discord.is_admin(Party("5", "ann"))
    assert on_discord.is_admin(Party("5", "Bob"))
    assert not on_telegram.is_admin(Party("7", "bob"))
    assert on_discord.is_admin(Party("99"))
    assert not on_telegram.is_admin(Party("99"))


def test_a_bare_id_among_the_admins_counts_on_every_platform() -> None:
    admins = ["1234567890123456789"]
    assert AccessPolicy(DISCORD, admins=admins).is_admin(Party("1234567890123456789"))
    assert AccessPolicy(TELEGRAM, admins=["42"]).is_admin(Party("42"))


def test_admins_of_another_platform_still_make_shared_settings_admin_only() -> None:
    policy = AccessPolicy(TELEGRAM, admins=["discord:@boss"])
    assert not policy.may_change_settings(ANN, shared=True)
    assert policy.may_change_settings(ANN, shared=False)


def test_a_bare_username_among_the_shared_admins_is_refused() -> None:
    with pytest.raises(AccessEntryError, match="telegram:@name or discord:@name"):
        check_shared_list(["telegram:@ann", "@bob"])
    with pytest.raises(AccessEntryError):
        AccessPolicy(TELEGRAM, admins=["@bob"])
    assert check_shared_list(["42", "discord:@bob"]) == ("42", "discord:@bob")


def test_an_own_list_refuses_the_other_platforms_entries_without_repeating_them() -> None:
    assert check_platform_list(["@ann", "telegram:42"], TELEGRAM) == ("@ann", "telegram:42")
    with pytest.raises(AccessEntryError, match="for telegram only") as caught:
        check_platform_list(["discord:@secretname"], TELEGRAM)
    assert "secretname" not in str(caught.value)


@pytest.mark.parametrize("entry", ["ann", "slack:@ann", "@-x", "@ann bob", "12a"])
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(AccessEntryError) as caught:
        check_platform_list([entry], TELEGRAM)
    assert entry not in str(caught.value)


def test_id_lists_take_ids_only() -> None:
    assert check_id_list(["123", "discord:456"], DISCORD, "role ids") == ("123", "discord:456")
    with pytest.raises(AccessEntryError, match="ids only"):
        check_id_list(["@admin"], DISCORD, "role ids")
    with pytest.raises(AccessEntryError):
        check_id_list(["admin"], DISCORD, "role ids")
