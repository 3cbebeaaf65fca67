// Chat templates: render a conversation into the prompt string a chat model was trained on.
//
// Hugging Face model folders ship their prompt format as a Jinja template (`chat_template` in
// tokenizer_config.json, or a chat_template.jinja file). We render it with @huggingface/jinja,
// passing the same variables as transformers' `apply_chat_template`: `messages`,
// `add_generation_prompt`, `enable_thinking` (only when set: Qwen3 tests `is defined`) and the
// special token strings (`bos_token`, `eos_token`, ...).

import { Template } from "@huggingface/jinja";

/** One conversation turn. */
export interface ChatMessage {
  /** Who speaks: "system", "user", "assistant" (templates may know others, e.g. "tool"). */
  readonly role: string;
  /** The turn's text. An assistant turn may hold a `<think>...</think>` block before the answer. */
  readonly content: string;
  /** Assistant reasoning kept apart from `content` (rendered inside `<think>` by Qwen3-style templates). */
  readonly reasoningContent?: string;
}

/** How to render a conversation. */
export interface ChatTemplateOptions {
  /** Append the header of the assistant turn the model should write next ("<|im_start|>assistant\n"). */
  readonly addGenerationPrompt: boolean;
  /** Qwen3 switch: false appends an empty "<think>\n\n</think>\n\n" block so the model answers directly; undefined leaves the template's default (thinking on). */
  readonly enableThinking?: boolean;
}

/**
 * ChatML with Qwen3's `<think>` handling, for tokenizers this project trains.
 *
 * For conversations of system, user and assistant turns it renders exactly what Qwen3's own
 * template renders (tested against it), minus tool calling:
 *   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n
 * Assistant turns after the last user turn keep their reasoning as "<think>\n...\n</think>\n\n";
 * earlier assistant turns drop it. `enable_thinking=false` appends an empty think block to the
 * generation prompt. Other roles render as plain ChatML turns.
 */
export const CHATML_CHAT_TEMPLATE = `{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- set ns = namespace(found_query=false, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if not ns.found_query and message.role == "user" %}
        {%- set ns.found_query = true %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}
            {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif not (message.role == "system" and loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
`;

/** A parsed Jinja chat template, rendered once per conversation. */
export class ChatTemplate {
  private readonly template: Template;

  /**
   * @param source Jinja source, e.g. tokenizer_config.json's `chat_template`.
   * @param origin Where the source came from, named in error messages (a file path).
   */
  constructor(
    readonly source: string,
    readonly origin = "chat template",
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new Error(`${origin}: cannot parse the Jinja chat template: ${errorMessage(error)}`);
    }
  }

  /**
   * Renders `messages` into a prompt string.
   * @param variables Extra template variables, e.g. `{ eos_token: "<|im_end|>" }`.
   */
  render(
    messages: readonly ChatMessage[],
    options: ChatTemplateOptions,
    variables: Readonly<Record<string, unknown>> = {},
  ): string {
    validateMessages(messages, this.origin);
    const context: Record<string, unknown> = {
      ...variables,
      messages: messages.map((message) => {
        const turn: Record<string, string> = { role: message.role, content: message.content };
        if (message.reasoningContent !== undefined) turn.reasoning_content = message.reasoningContent;
        return turn;
      }),
      add_generation_prompt: options.addGenerationPrompt,
    };
    if (options.enableThinking !== undefined) context.enable_thinking = options.enableThinking;
    try {
      return this.template.render(context);
    } catch (error) {
      throw new Error(`${this.origin}: rendering the chat template failed: ${errorMessage(error)}`);
    }
  }
}

function validateMessages(messages: readonly ChatMessage[], origin: string): void {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new Error(`${origin}: messages must be a non-empty array of { role, content }`);
  }
  messages.forEach((message, index) => {
    if (typeof message?.role !== "string" || typeof message.content !== "string") {
      throw new Error(`${origin}: messages[${index}] must have string role and content`);
    }
    if (message.reasoningContent !== undefined && typeof message.reasoningContent !== "string") {
      throw new Error(`${origin}: messages[${index}].reasoningContent must be a string`);
    }
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
