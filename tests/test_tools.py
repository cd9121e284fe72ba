"""Tool calls through the official openai client: required and named calls always parse and follow their schemas,
streamed or not; a tool result goes back into the chat; bad tools and choices are 400s and the engine serves on."""
import json
from concurrent.futures import ThreadPoolExecutor
import jsonschema, openai, pytest

MODEL = 'SmolLM2-135M-Instruct'
TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'description': 'Current weather in a city.',
          'parameters': {'type': 'object', 'additionalProperties': False, 'required': ['city', 'unit'],
                         'properties': {'city': {'type': 'string', 'maxLength': 20}, 'unit': {'enum': ['C', 'F']}}}}},
         {'type': 'function', 'function': {'name': 'add', 'description': 'Add two integers.',
          'parameters': {'type': 'object', 'additionalProperties': False, 'required': ['a', 'b'],
                         'properties': {'a': {'type': 'integer'}, 'b': {'type': 'integer'}}}}}]
PARAMS = {t['function']['name']: t['function']['parameters'] for t in TOOLS}
QUESTIONS = ['What is the weather in Paris, in Celsius?', 'What is 17 plus 25?', 'Is it raining in Tokyo?', 'Add 3 and 4.',
             'How warm is it in Lima in Fahrenheit?', 'What do I get if I add 100 to 23?']


def together(fn, items) -> list:
    "fn over items in parallel threads: the requests share the engine's batches (CPU time is per step, not per request)."
    with ThreadPoolExecutor(len(items)) as ex: return list(ex.map(fn, items))


def check_call(call, name=None):
    "The call names an offered tool (or `name`) and its arguments are JSON that validates against that tool's schema."
    assert call.type == 'function' and call.id.startswith('call_') and (name is None or call.function.name == name)
    jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])


def test_required_and_named_calls_always_parse(server):
    c = server.client()
    def ask(iq):
        i, q = iq
        r = c.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': q}], tools=TOOLS, tool_choice='required',
                                      temperature=0.8, seed=i, max_tokens=80)
        ch = r.choices[0]
        assert ch.finish_reason == 'tool_calls' and ch.message.content is None and len(ch.message.tool_calls) == 1
        check_call(ch.message.tool_calls[0])
    together(ask, list(enumerate(QUESTIONS)))
    r = c.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'What is 17 plus 25?'}], tools=TOOLS,
                                  tool_choice={'type': 'function', 'function': {'name': 'get_weather'}}, temperature=0, max_tokens=80)
    check_call(r.choices[0].message.tool_calls[0], 'get_weather')     # named: that tool, whatever the question


def test_streamed_call_equals_plain_and_tool_result_goes_back(server):
    c = server.client()
    kw = dict(model=MODEL, messages=[{'role': 'user', 'content': 'What is 17 plus 25?'}], tools=TOOLS, tool_choice='required', temperature=0, max_tokens=80)
    plain = c.chat.completions.create(**kw).choices[0].message.tool_calls[0]
    name, args, finish = '', '', None
    for ev in c.chat.completions.create(**kw, stream=True):
        if not ev.choices: continue
        d = ev.choices[0].delta
        assert not d.content                                             # no text deltas while a call is made
        for tc in d.tool_calls or []: name += tc.function.name or ''; args += tc.function.arguments or ''
        finish = ev.choices[0].finish_reason or finish
    assert (name, json.loads(args), finish) == (plain.function.name, json.loads(plain.function.arguments), 'tool_calls')
    history = [*kw['messages'], {'role': 'assistant', 'content': None, 'tool_calls': [plain.model_dump()]},
               {'role': 'tool', 'tool_call_id': plain.id, 'content': '42'}]
    r = c.chat.completions.create(model=MODEL, messages=history, tools=TOOLS, tool_choice='none', temperature=0, max_tokens=20)
    assert r.choices[0].message.content and not r.choices[0].message.tool_calls and r.choices[0].finish_reason in ('stop', 'length')


def test_auto_answers_text_or_calls_that_parse(server):
    "tool_choice 'auto' (and tools without tool_choice, OpenAI's default): text, or tagged calls held to the schemas; streamed the same."
    c = server.client()
    def ask(iq):   # one question at a time: its plain and streamed answers must see the same batches to draw the same tokens
        i, q = iq
        kw = dict(model=MODEL, messages=[{'role': 'user', 'content': q}], tools=TOOLS, temperature=0.8, seed=i, max_tokens=80)
        c.chat.completions.create(**{**kw, 'max_tokens': 1})   # the prompt into the prefix cache first: both answers below then
        # compute the same tail of it (a cached prefix changes logits by ~1e-5, enough to flip a draw now and then)
        ch = c.chat.completions.create(**kw, **({'tool_choice': 'auto'} if i % 2 else {})).choices[0]
        for call in ch.message.tool_calls or []: check_call(call)
        assert (ch.finish_reason == 'tool_calls') == bool(ch.message.tool_calls) and (ch.message.tool_calls or ch.message.content)
        assert '<tool_call>' not in (ch.message.content or '') or ch.finish_reason == 'length'   # a complete call is never left as text
        text, calls, finish = '', [], None
        for ev in c.chat.completions.create(**kw, **({'tool_choice': 'auto'} if i % 2 else {}), stream=True):
            if not ev.choices: continue
            d = ev.choices[0].delta
            text += d.content or ''; calls += [(t.function.name, json.loads(t.function.arguments)) for t in d.tool_calls or []]
            finish = ev.choices[0].finish_reason or finish
        want = [(t.function.name, json.loads(t.function.arguments)) for t in ch.message.tool_calls or []]
        assert (text or None, calls, finish) == (ch.message.content or None, want, ch.finish_reason)   # seeded: the same draws
        return 'calls' if ch.message.tool_calls else 'text'
    print(set(map(ask, enumerate(QUESTIONS[:2] + ['Write one sentence about the sea.']))))


@pytest.mark.parametrize('kw, words', [
    (dict(tools=TOOLS, tool_choice={'type': 'function', 'function': {'name': 'nope'}}), 'not among'),
    (dict(tools=TOOLS, tool_choice='sometimes'), 'tool_choice must be'),
    (dict(tools=[{'type': 'function', 'function': {'description': 'no name'}}], tool_choice='required'), 'each tool'),
    (dict(tools=[], tool_choice='required'), 'non-empty'),
    (dict(tools=TOOLS + TOOLS[:1], tool_choice='required'), 'unique'),
    (dict(tools=TOOLS, tool_choice='required', response_format={'type': 'json_object'}), 'exclude'),
])
def test_bad_tools_are_400_and_engine_serves_on(server, kw, words):
    c = server.client()
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'hi'}], max_tokens=8, **kw)
    assert words in e.value.body['message'], e.value.body
    assert c.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'hi'}], max_tokens=2).choices[0].message.content is not None


@pytest.mark.parametrize('template', ['tools_template.jinja', 'llama_tools_template.jinja'])   # Hermes' call format, Llama 3.1's
def test_a_template_that_takes_tools_gets_them(template):
    "With --chat-template set to a template that reads `tools`, the tools reach it as tools= (the server counts that template's prompt), and calls in its format still parse."
    from pathlib import Path
    from conftest import Server
    from nano_serve.model import load_tokenizer, resolve_model_source
    from nano_serve.service import chat_prompt
    from nano_serve.tools import tool_messages, check_tools
    tpl = Path(__file__).resolve().parent.parent / 'nbs' / 'data' / template
    tok = load_tokenizer(*resolve_model_source(None, 'auto')); tok.chat_template = tpl.read_text()
    s = Server('--no-dashboard', '--chat-template', str(tpl))
    try:
        c, msgs = s.client(), [{'role': 'user', 'content': QUESTIONS[1]}]
        def ask(choice):
            r = c.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS, tool_choice=choice, temperature=0, max_tokens=80, logprobs=True)
            prompt = chat_prompt(tok, *tool_messages(tok, msgs, check_tools(TOOLS), choice))
            written = ''.join(t.token for t in r.choices[0].logprobs.content)   # what the model wrote, in the template's call format
            if choice == 'required': assert ('"parameters"' if 'llama' in template else '"arguments"') in written, written
            assert '"name": "get_weather"' in prompt and r.usage.prompt_tokens == len(tok(prompt)['input_ids']), choice
            for call in r.choices[0].message.tool_calls or []: check_call(call)
            if choice == 'required': assert len(r.choices[0].message.tool_calls) == 1
        together(ask, ['required', 'auto'])
    finally: s.stop()
