"""Structured outputs through the official openai client: every constrained output parses and validates."""
import json, re
from concurrent.futures import ThreadPoolExecutor

import openai, pytest

SCHEMA = {'type': 'object', 'additionalProperties': False,
          'properties': {'name': {'type': 'string', 'maxLength': 16},
                         'age': {'type': 'integer', 'minimum': 0, 'maximum': 120},
                         'role': {'enum': ['engineer', 'artist', 'doctor']},
                         'address': {'type': 'object', 'additionalProperties': False, 'required': ['city', 'zip'],
                                     'properties': {'city': {'type': 'string', 'maxLength': 16},
                                                    'zip': {'type': 'string', 'pattern': '^[0-9]{5}$'}}},
                         'skills': {'type': 'array', 'items': {'type': 'string', 'maxLength': 12}, 'minItems': 1, 'maxItems': 3}},
          'required': ['name', 'age', 'role', 'address', 'skills']}
NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Ken', 'Dennis', 'Margaret', 'Linus']
PROMPTS = [f'Invent a {job} called {n} and describe them as JSON.' for n in NAMES for job in ('nurse', 'pilot', 'chef', 'poet', 'coder')]
MODEL = 'SmolLM2-135M-Instruct'
FORMAT = {'type': 'json_schema', 'json_schema': {'name': 'person', 'schema': SCHEMA}}


def chat(client, prompt, stream=False, **kw):
    "The reply's text (joined from the deltas when streamed) and its finish reason."
    msgs = [{'role': 'user', 'content': prompt}]
    if not stream:
        r = client.chat.completions.create(model=MODEL, messages=msgs, **{'temperature': 0.7, 'seed': len(prompt), 'max_tokens': 120, **kw})
        return r.choices[0].message.content, r.choices[0].finish_reason
    text, finish = '', None
    for ev in client.chat.completions.create(model=MODEL, messages=msgs, temperature=0.7, seed=len(prompt), max_tokens=120, stream=True, **kw):
        if ev.choices:
            text += ev.choices[0].delta.content or ''
            finish = ev.choices[0].finish_reason or finish
    return text, finish


def valid(text: str) -> bool:
    "Whether `text` parses as JSON and validates against SCHEMA."
    import jsonschema
    try: jsonschema.validate(json.loads(text), SCHEMA); return True
    except (json.JSONDecodeError, jsonschema.ValidationError): return False


def test_json_schema_always_validates(server):
    "Prompts with a nested schema (enum, array, pattern, bounds) all parse and validate, streamed or not (bench/structured_cpu.py runs 50)."
    client = server.client()
    with ThreadPoolExecutor(16) as ex:
        held = list(ex.map(lambda p: chat(client, p, response_format=FORMAT), PROMPTS[::8]))
        streamed = list(ex.map(lambda p: chat(client, p, stream=True, response_format=FORMAT), PROMPTS[:16:8]))
    bad = [(t, f) for t, f in held + streamed if not valid(t)]
    assert not bad, f'{len(bad)} of {len(held) + len(streamed)} constrained outputs do not validate, e.g. {bad[:2]}'
    assert all(f == 'stop' for _, f in held + streamed)
    assert streamed == held[:2]   # same seed, same text, streamed or not
    server.wait_idle()


def test_json_object_regex_choice(server):
    "json_object gives a JSON object; a regex and a choice (vLLM's structured_outputs and guided_* fields) match."
    client = server.client()
    text, _ = chat(client, 'Give me a JSON object with the name and age of a cat.', response_format={'type': 'json_object'}, temperature=0)
    assert isinstance(json.loads(text), dict)
    text, _ = chat(client, 'When was Ada born?', extra_body={'structured_outputs': {'regex': r'(18|19)[0-9]{2}-[01][0-9]'}})
    assert re.fullmatch(r'(18|19)[0-9]{2}-[01][0-9]', text)
    r = client.completions.create(model=MODEL, prompt='The sky is', max_tokens=5, extra_body={'guided_choice': ['blue', 'green']})
    assert r.choices[0].text in ('blue', 'green')


BAD = [(dict(response_format={'type': 'json_schema', 'json_schema': {'name': 'x', 'schema': {'type': 'nonsense'}}}), 'structured_outputs'),
       (dict(response_format={'type': 'yaml'}), 'response_format'),
       (dict(extra_body={'structured_outputs': {'regex': '(unclosed'}}), 'structured_outputs'),
       (dict(extra_body={'structured_outputs': {'choice': []}}), 'structured_outputs'),
       (dict(extra_body={'structured_outputs': {'xml': 'a'}}), 'structured_outputs'),
       (dict(response_format={'type': 'json_object'}, extra_body={'guided_regex': 'a+'}), 'structured_outputs')]


def test_bad_specs_are_400(server):
    "Each malformed or uncompilable spec is a 400 in OpenAI's error shape; then the engine still serves a constrained request."
    client = server.client()
    for kw, param in BAD:
        with pytest.raises(openai.BadRequestError) as e: chat(client, 'hi', **kw)
        assert e.value.status_code == 400 and e.value.body['param'] == param and e.value.body['message'], (kw, e.value.body)
    text, finish = chat(client, 'Yes or no?', extra_body={'guided_choice': ['yes', 'no']}, max_tokens=4)
    assert text in ('yes', 'no') and finish == 'stop' and server.health()[0] == 200
