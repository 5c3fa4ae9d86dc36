"""Every message the bot writes itself, in English and Chinese (Simplified).

Messages are Markdown with str.format fields. A test checks that both languages
have every key with the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.domain import Language

EN = Language.EN
ZH = Language.ZH

MESSAGES: Mapping[str, Mapping[Language, str]] = {
    "help": {
        EN: (
            "**Commands**\n"
            "/think - show the reasoning behind the last answer\n"
            "/think <question> - ask and see the reasoning with the answer\n"
            "/think on|off - always show (or hide) reasoning in this chat\n"
            "/stats - usage and cost: last request, this chat, your key\n"
            "/new - start a fresh conversation (the old one is kept)\n"
            "/model - show the model and fallback chain; /model <id> switches\n"
            "/system <text> - set the system prompt; /system shows it; /system reset\n"
            "/lang en|zh - the language of the bot's own messages\n"
            "/help - this list\n\n"
            "Anything else you write goes to the model."
        ),
        ZH: (
            "**命令**\n"
            "/think - 查看上一条回答背后的思考过程\n"
            "/think <问题> - 提问，并同时显示思考过程和回答\n"
            "/think on|off - 在本聊天中始终显示（或隐藏）思考过程\n"
            "/stats - 用量和费用：上一次请求、本聊天、你的密钥\n"
            "/new - 开始新的对话（旧对话会保留）\n"
            "/model - 查看当前模型和备用模型链；/model <id> 切换模型\n"
            "/system <文本> - 设置系统提示词；/system 查看；/system reset 恢复默认\n"
            "/lang en|zh - 切换机器人自身消息的语言\n"
            "/help - 显示本列表\n\n"
            "其他任何消息都会发送给模型。"
        ),
    },
    "unknown_command": {
        EN: "Unknown command /{name}. Send /help to see what I can do.",
        ZH: "未知命令 /{name}。发送 /help 查看可用命令。",
    },
    "empty_message": {
        EN: "Your message has no text I can send to the model.",
        ZH: "你的消息里没有可以发送给模型的文字。",
    },
    "input_too_long": {
        EN: (
            "Your message is too long: about {tokens} tokens, and this model can take at most "
            "{limit} here. Please shorten it or split it into parts."
        ),
        ZH: "你的消息太长了：约 {tokens} 个 token，而当前模型在这里最多只能接收 {limit} 个。请缩短或分段发送。",
    },
    "input_too_many_chars": {
        EN: "Your message is too long: {chars} characters, the limit is {limit}. Please shorten it.",
        ZH: "你的消息太长了：共 {chars} 个字符，上限为 {limit}。请缩短后再发。",
    },
    "queued": {
        EN: "The model's rate limit is reached; your message is queued and will be answered in about {seconds} s.",
        ZH: "已达到模型的速率限制，你的消息正在排队，大约 {seconds} 秒后回答。",
    },
    "queued.minutes": {
        EN: "The model's rate limit is reached; your message is queued and will be answered in about {minutes} min.",
        ZH: "已达到模型的速率限制，你的消息正在排队，大约 {minutes} 分钟后回答。",
    },
    "input.file_too_large": {
        EN: "That file is too large for me to read ({size} KB; the limit is {limit} KB).",
        ZH: "这个文件太大，我无法读取（{size} KB；上限为 {limit} KB）。",
    },
    "limit.rate": {
        EN: "You are sending messages faster than this bot allows ({limit} a minute). You can write again in {seconds} s.",
        ZH: "你发消息的速度超过了本机器人的限制（每分钟 {limit} 条）。{seconds} 秒后可以再发。",
    },
    "limit.user_budget": {
        EN: "You have used up your daily budget on this bot ({used} of {limit}{unit}). You can write again after 00:00 UTC, in {hours} h {minutes} min.",
        ZH: "你今天在本机器人上的额度已用完（{used} / {limit}{unit}）。UTC 0 点后可以再发，还有 {hours} 小时 {minutes} 分钟。",
    },
    "limit.chat_budget": {
        EN: "This chat has used up its daily budget ({used} of {limit}{unit}). Everyone here can write again after 00:00 UTC, in {hours} h {minutes} min.",
        ZH: "本聊天今天的额度已用完（{used} / {limit}{unit}）。UTC 0 点后大家可以再发，还有 {hours} 小时 {minutes} 分钟。",
    },
    "limit.unit.tokens": {
        EN: " tokens",
        ZH: " 个 token",
    },
    "restarted": {
        EN: "_{failed} stopped mid-answer; {model} answered from the start instead._",
        ZH: "_{failed} 在回答中途出错，已由 {model} 重新完整回答。_",
    },
    "fallback_used": {
        EN: "_Answered by {model} ({requested} was unavailable)._",
        ZH: "_由 {model} 回答（{requested} 暂不可用）。_",
    },
    "answer_truncated": {
        EN: "_The answer hit the length limit and may be cut off._",
        ZH: "_回答达到长度上限，可能不完整。_",
    },
    "answer_empty": {
        EN: "The model returned an empty answer. Please try again or rephrase.",
        ZH: "模型返回了空回答。请重试或换一种说法。",
    },
    "think.none": {
        EN: "There is no answer in this conversation yet.",
        ZH: "本对话中还没有回答。",
    },
    "think.no_reasoning": {
        EN: "The last answer came without visible reasoning ({model} did not return any).",
        ZH: "上一条回答没有可显示的思考过程（{model} 没有返回）。",
    },
    "think.header": {
        EN: "Reasoning behind the last answer ({model}):",
        ZH: "上一条回答的思考过程（{model}）：",
    },
    "think.on": {
        EN: "Reasoning will now be shown with every answer in this chat.",
        ZH: "本聊天中的每条回答都将显示思考过程。",
    },
    "think.off": {
        EN: "Reasoning is hidden again; use /think to see it for the last answer.",
        ZH: "已隐藏思考过程；可随时用 /think 查看上一条回答的思考过程。",
    },
    "new.done": {
        EN: "Started a new conversation. The previous one is saved.",
        ZH: "已开始新的对话，之前的对话已保存。",
    },
    "model.current": {
        EN: "**Model:** `{model}`\n**Fallback chain:** {chain}\n\nSwitch with /model <id>.",
        ZH: "**当前模型：** `{model}`\n**备用模型链：** {chain}\n\n用 /model <id> 切换。",
    },
    "model.switched": {
        EN: "This chat now uses `{model}`.",
        ZH: "本聊天已切换到 `{model}`。",
    },
    "model.reset": {
        EN: "This chat uses the default model `{model}` again.",
        ZH: "本聊天已恢复使用默认模型 `{model}`。",
    },
    "model.unknown": {
        EN: "OpenRouter has no model `{model}`.",
        ZH: "OpenRouter 上没有模型 `{model}`。",
    },
    "model.suggestions": {
        EN: "Did you mean: {matches}",
        ZH: "你是不是要找：{matches}",
    },
    "model.list_unavailable": {
        EN: "I can't reach OpenRouter's model list right now, so I can't check `{model}`. Try again in a minute.",
        ZH: "暂时无法获取 OpenRouter 的模型列表，无法校验 `{model}`。请稍后再试。",
    },
    "system.current": {
        EN: "**System prompt:**\n{prompt}",
        ZH: "**系统提示词：**\n{prompt}",
    },
    "system.none": {
        EN: "No system prompt is set for this chat. Set one with /system <text>.",
        ZH: "本聊天没有设置系统提示词。用 /system <文本> 设置。",
    },
    "system.set": {
        EN: "System prompt saved. It applies from the next message.",
        ZH: "系统提示词已保存，从下一条消息起生效。",
    },
    "system.reset": {
        EN: "System prompt removed.",
        ZH: "已删除系统提示词。",
    },
    "lang.set": {
        EN: "I will write my own messages in English.",
        ZH: "我会用中文发送我自己的消息。",
    },
    "lang.usage": {
        EN: "Usage: /lang en or /lang zh",
        ZH: "用法：/lang en 或 /lang zh",
    },
    "think.usage": {
        EN: "Usage: /think, /think <question>, /think on or /think off",
        ZH: "用法：/think、/think <问题>、/think on 或 /think off",
    },
    "stats.last": {
        EN: (
            "**Last request** ({when})\n"
            "Model: `{model}`{fallback}\n"
            "Time: {latency} s, first token after {ttft} s\n"
            "Tokens: {prompt} prompt + {completion} completion ({reasoning} reasoning) = {total}\n"
            "Cost: {cost}"
        ),
        ZH: (
            "**上一次请求**（{when}）\n"
            "模型：`{model}`{fallback}\n"
            "耗时：{latency} 秒，首个 token 用时 {ttft} 秒\n"
            "Token：输入 {prompt} + 输出 {completion}（其中思考 {reasoning}）= {total}\n"
            "费用：{cost}"
        ),
    },
    "stats.last_failed": {
        EN: "**Last request** ({when}) failed: {error} (model `{model}`).",
        ZH: "**上一次请求**（{when}）失败：{error}（模型 `{model}`）。",
    },
    "stats.fallback": {
        EN: " (fallback from `{requested}`)",
        ZH: "（由 `{requested}` 回退）",
    },
    "stats.no_requests": {
        EN: "No requests in this chat yet.",
        ZH: "本聊天还没有请求记录。",
    },
    "stats.chat": {
        EN: (
            "**This chat**: requests {requests} ({failed} failed), tokens {total} "
            "({prompt} prompt, {completion} completion, {reasoning} reasoning), cost {cost}"
        ),
        ZH: (
            "**本聊天**：{requests} 次请求（失败 {failed} 次），共 {total} 个 token"
            "（输入 {prompt}，输出 {completion}，思考 {reasoning}），费用 {cost}"
        ),
    },
    "stats.by_model": {
        EN: "- `{model}`: requests {requests}, tokens {total}, cost {cost}",
        ZH: "- `{model}`：{requests} 次请求，{total} 个 token，{cost}",
    },
    "stats.key": {
        EN: "**OpenRouter key**: credit left {remaining}, used today {daily}",
        ZH: "**OpenRouter 密钥**：剩余额度 {remaining}，今日已用 {daily}",
    },
    "stats.free_quota": {
        EN: "Free-model requests left today: {remaining} of {limit} (resets at 00:00 UTC)",
        ZH: "今日剩余免费模型请求：{remaining} / {limit}（UTC 0 点重置）",
    },
    "stats.you_today": {
        EN: "**You today**: requests {requests}, tokens {tokens}, cost {cost}",
        ZH: "**你今天**：{requests} 次请求，{tokens} 个 token，费用 {cost}",
    },
    "stats.chat_today": {
        EN: "**This chat today**: requests {requests}, tokens {tokens}, cost {cost}",
        ZH: "**本聊天今天**：{requests} 次请求，{tokens} 个 token，费用 {cost}",
    },
    "stats.budget_left": {
        EN: "- daily budget: {left}{unit} left of {limit}{unit}",
        ZH: "- 每日额度：剩余 {left}{unit}，共 {limit}{unit}",
    },
    "stats.key_unavailable": {
        EN: "_OpenRouter's key endpoint did not answer; credit and daily quota are unknown._",
        ZH: "_OpenRouter 密钥接口无响应，暂时无法获取余额和每日配额。_",
    },
    "stats.unlimited": {
        EN: "unlimited",
        ZH: "不限",
    },
    "stats.unknown": {
        EN: "n/a",
        ZH: "未知",
    },
    "error.auth": {
        EN: "The bot's OpenRouter API key was rejected. The operator needs to check OPENROUTER_API_KEY.",
        ZH: "OpenRouter 拒绝了机器人的 API 密钥。请管理员检查 OPENROUTER_API_KEY。",
    },
    "error.no_credits": {
        EN: "The OpenRouter account is out of credits. The operator needs to add credits, or switch to a free model with /model.",
        ZH: "OpenRouter 账户余额不足。请管理员充值，或用 /model 切换到免费模型。",
    },
    "error.moderation": {
        EN: "The model's provider refused this message (content policy{reasons}). Please rephrase.",
        ZH: "模型提供方拒绝了这条消息（内容政策{reasons}）。请换一种说法。",
    },
    "error.context_too_long": {
        EN: "This conversation is too long for the model. Send /new to start a fresh one, or shorten your message.",
        ZH: "本对话对模型来说太长了。发送 /new 开始新对话，或缩短你的消息。",
    },
    "error.rate_limited": {
        EN: "The model is rate limited right now (it is getting more requests than it takes). Please try again in a minute.",
        ZH: "模型当前被限流（收到的请求超过了它的承受量）。请一分钟后再试。",
    },
    "error.daily_quota": {
        EN: "Today's free-model requests for this bot's OpenRouter key are used up; they come back at 00:00 UTC, in {hours} h {minutes} min. The operator can add credits (buying $10 raises the free quota to 1,000 requests a day), or you can switch to a paid model with /model.",
        ZH: "本机器人的 OpenRouter 密钥今天的免费模型请求次数已用完，将在 UTC 0 点恢复，还有 {hours} 小时 {minutes} 分钟。管理员可以充值（购买 10 美元额度后，免费配额提升到每天 1,000 次），你也可以用 /model 切换到付费模型。",
    },
    "error.queue_full": {
        EN: "The bot is very busy: your message would wait about {minutes} min for the model. Please send it again later.",
        ZH: "机器人现在非常忙：你的消息需要排队约 {minutes} 分钟才能轮到模型。请稍后再发。",
    },
    "error.unavailable": {
        EN: "The model and its fallbacks are unavailable right now. Please try again shortly.",
        ZH: "模型及其备用模型暂时不可用。请稍后再试。",
    },
    "error.timeout": {
        EN: "The model took too long to answer. Please try again.",
        ZH: "模型响应超时。请重试。",
    },
    "error.malformed": {
        EN: "The model sent an answer I couldn't read. Please try again.",
        ZH: "模型返回了无法解析的回答。请重试。",
    },
    "error.model_not_found": {
        EN: "The model is no longer available on OpenRouter. Choose another with /model.",
        ZH: "该模型已不在 OpenRouter 上提供。请用 /model 选择其他模型。",
    },
    "error.bad_request": {
        EN: "OpenRouter rejected the request. Please try again; if it keeps failing, send /new.",
        ZH: "OpenRouter 拒绝了这次请求。请重试；如果持续失败，请发送 /new。",
    },
    "error.internal": {
        EN: "Something went wrong on my side. Your message is saved; please try again.",
        ZH: "我这边出了点问题。你的消息已保存，请重试。",
    },
    "error.not_stored": {
        EN: "I can't take messages right now (my storage is unavailable). Please send it again "
        "in a minute.",
        ZH: "我暂时无法接收消息（存储不可用）。请过一分钟再发送一次。",
    },
    "error.kept": {
        EN: "_Your message is saved in this conversation._",
        ZH: "_你的消息已保存在本对话中。_",
    },
    "console.welcome": {
        EN: "chatrelay - chat `{chat}` with `{model}`. Type /help for commands, Ctrl-D to quit.",
        ZH: "chatrelay - 聊天 `{chat}`，模型 `{model}`。输入 /help 查看命令，Ctrl-D 退出。",
    },
    "reasoning.label": {
        EN: "Reasoning",
        ZH: "思考过程",
    },
    "access.denied": {
        EN: "Sorry, this bot is private and you are not on its list. Ask its owner to add you.",
        ZH: "抱歉，这是一个私人机器人，你不在允许名单中。请联系它的主人把你加进来。",
    },
    "access.admin_only": {
        EN: "Only the bot's admins can change /{name} in a group.",
        ZH: "在群组中只有机器人管理员可以修改 /{name}。",
    },
    "input.unsupported": {
        EN: "I can't read {what}. I read text messages, and photos with a caption when the "
        "model can see images. Please write your question as text.",
        ZH: "我无法读取{what}。我能读取文字消息；当模型支持图片时，也能读取带说明的照片。"
        "请用文字发送你的问题。",
    },
    "input.kind.sticker": {EN: "stickers", ZH: "贴纸"},
    "input.kind.voice": {EN: "voice messages", ZH: "语音消息"},
    "input.kind.audio": {EN: "audio files", ZH: "音频文件"},
    "input.kind.video": {EN: "videos", ZH: "视频"},
    "input.kind.document": {EN: "files", ZH: "文件"},
    "input.kind.location": {EN: "locations", ZH: "位置"},
    "input.kind.contact": {EN: "contacts", ZH: "联系人"},
    "input.kind.poll": {EN: "polls", ZH: "投票"},
    "input.kind.other": {EN: "this kind of message", ZH: "这类消息"},
    "input.image_unsupported": {
        EN: "The model `{model}` can't see images. Describe the picture in words, or switch "
        "to a model that accepts images with /model.",
        ZH: "模型 `{model}` 无法识别图片。请用文字描述图片内容，或用 /model 切换到支持图片的模型。",
    },
    "input.image_too_large": {
        EN: "That image is too large for me to read ({size} MB; the limit is {limit} MB).",
        ZH: "这张图片太大，我无法读取（{size} MB；上限为 {limit} MB）。",
    },
    "menu.think": {EN: "Show the reasoning behind the last answer", ZH: "查看上一条回答的思考过程"},
    "menu.stats": {EN: "Usage and cost", ZH: "用量和费用"},
    "menu.new": {EN: "Start a fresh conversation", ZH: "开始新的对话"},
    "menu.model": {EN: "Show or switch the model", ZH: "查看或切换模型"},
    "menu.system": {EN: "Show or set the system prompt", ZH: "查看或设置系统提示词"},
    "menu.lang": {EN: "Language of the bot's messages (en/zh)", ZH: "机器人消息的语言（en/zh）"},
    "menu.help": {EN: "What I can do", ZH: "我能做什么"},
    "menu.ask": {EN: "Ask the model (in a new thread)", ZH: "向模型提问（在新的子区中）"},
    "menu.arg.prompt": {EN: "What to ask", ZH: "要问的问题"},
    "menu.arg.model": {EN: "A model id, e.g. openai/gpt-5", ZH: "模型 id，例如 openai/gpt-5"},
    "menu.arg.system": {EN: "The new system prompt, or reset", ZH: "新的系统提示词，或 reset"},
    "menu.arg.lang": {EN: "en or zh", ZH: "en 或 zh"},
    "input.download_failed": {
        EN: "I couldn't download what you sent. Please send it again.",
        ZH: "我没能下载你发送的内容。请重新发送。",
    },
}
