from core.access import AccessPolicy, Party

ANN = Party("11", "Ann")
BOB = Party("12", None)
GROUP = Party("-100500", "friends_chat")
DM = Party("11")


def test_no_lists_means_open_to_everyone() -> None:
    policy = AccessPolicy()
    assert policy.allows(BOB, DM)
    assert policy.may_change_settings(BOB, shared=True)


def test_users_match_by_id_or_case_insensitive_username() -> None:
    assert AccessPolicy(allowed_users=["@ann"]).allows(ANN, DM)
    assert AccessPolicy(allowed_users=["12"]).allows(BOB, DM)
    assert not AccessPolicy(allowed_users=["@ann"]).allows(BOB, DM)


def test_a_listed_chat_admits_everyone_in_it_and_only_there() -> None:
    policy = AccessPolicy(allowed_chats=["@Friends_Chat"])
    assert policy.allows(BOB, GROUP)
    assert not policy.allows(BOB, Party("12"))
    assert AccessPolicy(allowed_chats=["-100500"]).allows(BOB, GROUP)


def test_admins_are_always_allowed_and_alone_change_shared_settings() -> None:
    policy = AccessPolicy(allowed_users=["@someone"], admins=["12"])
    assert policy.allows(BOB, DM)
    assert policy.may_change_settings(BOB, shared=True)
    assert not policy.may_change_settings(ANN, shared=True)
    assert policy.may_change_settings(ANN, shared=False)


def test_a_listed_role_admits_its_members_anywhere() -> None:
    policy = AccessPolicy(allowed_roles=["555", "Helpers"])
    assert policy.allows(BOB, GROUP, roles=["555"])
    assert policy.allows(BOB, GROUP, roles=["helpers"])
    assert not policy.allows(BOB, GROUP, roles=["777"])
    assert not policy.allows(BOB, GROUP)


def test_any_of_several_places_may_be_listed() -> None:
    policy = AccessPolicy(allowed_chats=["-100500"])
    thread, parent = Party("9"), Party("-100500")
    assert policy.allows(BOB, thread, parent)
    assert not policy.allows(BOB, thread)
