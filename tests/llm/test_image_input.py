"""Images in the request body, and the fake OpenRouter's answers to them."""

from __future__ import annotations

import base64

import httpx
import pytest

from core.domain import ImageInput, PromptTurn
from core.errors import ModelNotFoundError
from core.llm.payload import chat_body
from tests.fakes.openrouter import FakeOpenRouter

from .conftest import ClientFactory
from .helpers import API_KEY, collect, completion_of, make_request

URL = "data:image/png;base64,iVBORw0KGgo="
TEXT_ONLY = "tencent/hy3-preview:free"
SEES_IMAGES = "openai/gpt-5"


def test_image_input_becomes_a_base64_data_url() -> None:
    image = ImageInput(b"\x89PNG\r\n\x1a\n", "image/png")
    assert image.data_url() == "data:image/png;base64," + base64.b64encode(image.data).decode()
    assert ImageInput(b"x", "").data_url() == "data:image/jpeg;base64,eA=="


def test_a_turn_with_images_is_sent_as_content_parts_and_others_stay_strings() -> None:
    request = make_request(
        messages=(
            PromptTurn("system", "Be brief."),
            PromptTurn("user", "[image] earlier"),
            PromptTurn("assistant", "A cat."),
            PromptTurn("user", "What is this?", images=(URL, URL + "AA")),
        )
    )
    messages = chat_body(request, 0, stream=True)["messages"]
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "[image] earlier"},
        {"role": "assistant", "content": "A cat."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": URL}},
                {"type": "image_url", "image_url": {"url": URL + "AA"}},
            ],
        },
    ]


def test_an_image_without_text_has_no_text_part() -> None:
    request = make_request(messages=(PromptTurn("user", "", images=(URL,)),))
    messages = chat_body(request, 0, stream=False)["messages"]
    assert messages == [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": URL}}]}
    ]


async def test_the_fake_records_the_image_and_a_seeing_model_answers(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    request = make_request(
        models=(SEES_IMAGES,), messages=(PromptTurn("user", "What is this?", images=(URL,)),)
    )
    done = completion_of(await collect(make_client(), request))
    assert done.content == "Echo: What is this?"
    assert done.model_served == SEES_IMAGES
    assert fake.chat_requests[0].image_urls == [URL]


async def test_a_text_only_model_answers_an_image_with_404_like_openrouter(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    request = make_request(
        models=(TEXT_ONLY,), messages=(PromptTurn("user", "look", images=(URL,)),)
    )
    with pytest.raises(ModelNotFoundError):
        await collect(make_client(), request)
    # the raw answer, as OpenRouter sends it
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{fake.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={"model": TEXT_ONLY, "messages": chat_body(request, 0, stream=False)["messages"]},
        )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": 404,
        "message": "No endpoints found that support image input",
    }


async def test_a_text_only_model_falls_back_to_one_that_sees_images(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    request = make_request(
        models=(TEXT_ONLY, SEES_IMAGES), messages=(PromptTurn("user", "look", images=(URL,)),)
    )
    done = completion_of(await collect(make_client(), request))
    assert done.model_served == SEES_IMAGES
    assert done.fallback_used


async def test_the_fake_rejects_malformed_content_parts(fake: FakeOpenRouter) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{fake.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={
                "model": SEES_IMAGES,
                "messages": [{"role": "user", "content": [{"type": "image_url", "url": URL}]}],
            },
        )
    assert response.status_code == 400
    assert "invalid part" in response.json()["error"]["message"]
