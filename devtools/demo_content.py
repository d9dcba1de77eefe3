"""The demo newsroom's content, written from the facts in the four pieces of
work that shaped the product (see the README). No quotes are invented."""

SOURCES = [
    {
        "name": "The Sequence Radar",
        "url": "https://thesequence.substack.com/",
        "description": "A weekly digest of AI research and industry news.",
    },
    {
        "name": "The New York Times",
        "url": "https://www.nytimes.com/",
        "description": "A daily newspaper whose technology desk covers the AI industry.",
    },
    {
        "name": "Company announcements",
        "url": "",
        "description": "Press releases, blog posts and launch notes from the companies themselves.",
    },
    {
        "name": "Market data",
        "url": "",
        "description": "Share prices and index moves as reported at market close.",
    },
]

TOPICS = [
    ("DeepSeek", "The Chinese lab behind the V3 and R1 models."),
    ("OpenAI", "The maker of ChatGPT and Sora."),
    ("Sora", "OpenAI's text-to-video model."),
    ("Google Gemini", "Google's family of multimodal models."),
    ("Mistral", "The French lab that publishes open-weight models."),
    ("Nvidia", "The chip maker whose GPUs train most frontier models."),
    ("Open-source models", "Models whose weights anyone can download and run."),
    ("AI video", "Models that make or edit moving pictures."),
    ("AI infrastructure", "Chips, clusters and the money that builds them."),
    ("AI governance", "How companies and states keep AI use in check."),
    ("Training efficiency", "Getting more model for less compute."),
    ("Markets", "How investors price the AI industry."),
]

# The newsletters the pieces come from. The default one (made by the
# migration, named after the site) is the numbered digest; "slug": None marks it.
NEWSLETTERS = [
    {
        "slug": None,
        "description": "The numbered digest: the week's AI news in a few numbered stories, "
        "each with why it matters.",
    },
    {
        "slug": "weekly-radar",
        "name": "The Weekly Radar",
        "description": "A long read once a week that walks through the week's AI news "
        "in a few sections and sums it up in a TL;DR.",
    },
    {
        "slug": "reels-thrills-and-bills",
        "name": "Reels, Thrills, and Bills",
        "description": "A small newsletter about technology, money and culture: "
        "commentary posts with the author's own take.",
    },
]

# Issues in publication order. "days_ago" dates the publication; None means
# scheduled for the future. Each story: (fields, topics, citations, final state).
ISSUES = [
    {
        "number": 1,
        "format": "post",
        "newsletter": "reels-thrills-and-bills",
        "headline": "AI's Sputnik Moment",
        "intro": "From the *Posts* section of **Reels, Thrills, and Bills**, a small newsletter "
        "about technology, money and culture.",
        "closing_tldr": "",
        "days_ago": 660,
        "stories": [
            {
                "headline": "AI's Sputnik Moment",
                "slug": "ais-sputnik-moment",
                "dek": "DeepSeek shakes the US AI industry to its core",
                "lead_image": {
                    "alt": "An illustrated satellite with a whale emblem orbiting the Earth",
                    "caption": "A satellite moment for the AI race.",
                    "credit": "Grok | DeepSeek Satellite",
                },
                "tldr": "A small Chinese lab released reasoning models that rival the best "
                "American ones, said it built them for a fraction of the usual cost, "
                "and gave them away. Investors panicked, and US labs started asking "
                "whether their billions buy what they thought.",
                "key_points": (
                    "- **Founder:** DeepSeek was founded by Liang Wenfeng.\n"
                    "- **Releases:** it put out an open-source model in late December 2024 "
                    "and the reasoning model R1 in January 2025.\n"
                    "- **Cost:** the models were built for far less money than their US "
                    "rivals.\n"
                    "- **Market shock:** Nvidia's shares fell more than 12% and the Nasdaq "
                    "Composite lost 3.6%."
                ),
                "body": (
                    "In 1957 a beeping metal ball told Americans that a rival could do what "
                    "they had assumed only they could. The launch of DeepSeek's R1 felt much "
                    "the same to the AI industry.\n\n"
                    "The lab did not simply match the leaders on reasoning benchmarks. It "
                    "published its weights, described its methods and undercut the price of "
                    "running a frontier-class model by a wide margin."
                ),
                "why_it_matters": (
                    "The American lead in AI was supposed to rest on money and chips. If a "
                    "model this capable can be trained without either in abundance, the moats "
                    "that justified record spending look shallower.\n\n"
                    "Open weights also change who gets to build on top. Any company, anywhere, "
                    "can now run and adapt a strong reasoning model on its own hardware.\n\n"
                    "**My take:** this is less a defeat than a wake-up call. Competition on "
                    "efficiency is good news for everyone who uses these tools, and the labs "
                    "that respond by building smarter rather than bigger will come out ahead."
                ),
                "topics": ["DeepSeek", "Open-source models", "Nvidia", "Markets"],
                "citations": [
                    {
                        "source": "Market data",
                        "title": "Nvidia and Nasdaq Composite at the close",
                        "url": "",
                    },
                    {
                        "source": "Company announcements",
                        "title": "DeepSeek R1 release notes",
                        "url": "https://github.com/deepseek-ai/DeepSeek-R1",
                    },
                ],
            },
        ],
    },
    {
        "number": 2,
        "format": "digest",
        "newsletter": None,
        "headline": "Five stories from the week after R1",
        "intro": "The week's five biggest stories, each with why it matters.",
        "closing_tldr": "Efficiency is the new scale, provenance is the new safety feature, "
        "and governance has moved from slide decks into audit logs.",
        "days_ago": 654,
        "stories": [
            {
                "headline": "The industry pivots to training efficiency",
                "slug": "industry-pivots-to-training-efficiency",
                "dek": "A week after DeepSeek-R1, labs ask what a training dollar really buys.",
                "body": (
                    "DeepSeek's reported training budget of about **$6 million** sits against "
                    "clusters that cost $100 million and more. Labs are now adopting R1-style "
                    "distillation, where a large model teaches a smaller one, and multi-head "
                    "latent attention (MLA), which cuts the memory a model needs at inference.\n\n"
                    "Investors have noticed: hardware utilisation (model FLOPs utilisation, "
                    "MFU) is replacing raw GPU count as the figure asked for in due diligence."
                ),
                "why_it_matters": (
                    "- Cheaper training lowers the bar for new labs.\n"
                    "- Distillation and MLA spread fast because they are published.\n"
                    "- Funding follows efficiency, not cluster size."
                ),
                "topics": ["Training efficiency", "DeepSeek", "AI infrastructure"],
                "citations": [
                    {
                        "source": "The Sequence Radar",
                        "title": "Efficiency after R1",
                        "url": "https://thesequence.substack.com/",
                    }
                ],
            },
            {
                "headline": "OpenAI lets directors and artists red-team Sora",
                "slug": "openai-sora-red-team-artists",
                "dek": "A small group gets early access to test the video model's limits.",
                "body": (
                    "OpenAI is giving Sora to a small group of directors and artists to probe "
                    "for misuse before a wider release. Every clip carries C2PA provenance "
                    "metadata, and content filters block requests aimed at deepfakes of real "
                    "people."
                ),
                "why_it_matters": (
                    "- Creative professionals find failure modes that benchmarks miss.\n"
                    "- C2PA metadata makes AI video traceable.\n"
                    "- Deepfake filters set the bar for rival video models."
                ),
                "topics": ["OpenAI", "Sora", "AI video"],
                "citations": [
                    {
                        "source": "Company announcements",
                        "title": "Sora red-teaming update",
                        "url": "https://openai.com/sora",
                    }
                ],
            },
            {
                "headline": "Enterprises tighten AI governance",
                "slug": "enterprises-tighten-ai-governance",
                "dek": "Data-leak scares and chatbot hallucination incidents change the rules.",
                "body": (
                    "After staff pasted confidential data into public chatbots and customer-"
                    "facing bots made things up, large companies are setting up AI risk "
                    "committees, keeping audit logs of prompts and answers, and steering "
                    "employees to sanctioned internal platforms."
                ),
                "why_it_matters": (
                    "- Governance is becoming a buying criterion.\n"
                    "- Audit logs turn AI use into something that can be checked.\n"
                    "- Internal platforms keep data inside the company."
                ),
                "topics": ["AI governance"],
                "citations": [
                    {
                        "source": "The Sequence Radar",
                        "title": "Enterprise AI governance",
                        "url": "https://thesequence.substack.com/",
                    }
                ],
            },
            {
                "headline": "Gemini 1.5 Pro arrives in Google Workspace",
                "slug": "gemini-15-pro-google-workspace",
                "dek": "A sidebar that can read a whole Drive, and Microsoft's answer.",
                "body": (
                    "Gemini 1.5 Pro now works inside Docs, Sheets and Slides with a context "
                    "window of more than a million tokens. A sidebar can answer questions "
                    "across everything in a user's Drive. Microsoft responded with Copilot "
                    "Pages."
                ),
                "why_it_matters": (
                    "- Long context makes whole-archive questions practical.\n"
                    "- Office suites are the new battleground for assistants.\n"
                    "- Microsoft and Google now race feature for feature."
                ),
                "topics": ["Google Gemini"],
                "citations": [
                    {
                        "source": "Company announcements",
                        "title": "Gemini in Workspace",
                        "url": "https://workspace.google.com/",
                    }
                ],
            },
            {
                "headline": "Mistral releases Pixtral 12B",
                "slug": "mistral-releases-pixtral-12b",
                "dek": "The French lab's first open-weight multimodal model.",
                "body": (
                    "Pixtral 12B reads images as well as text, and it is small enough to run "
                    "on consumer hardware. Its weights are open."
                ),
                "why_it_matters": (
                    "- Multimodal models no longer need a data centre.\n"
                    "- Open weights invite fine-tuning for niche uses.\n"
                    "- Europe keeps a foothold in open models."
                ),
                "topics": ["Mistral", "Open-source models"],
                "citations": [
                    {
                        "source": "Company announcements",
                        "title": "Announcing Pixtral 12B",
                        "url": "https://mistral.ai/news/pixtral-12b/",
                    }
                ],
            },
        ],
    },
    {
        "number": 3,
        "format": "post",
        "newsletter": None,
        "headline": "DeepSeek's sequel and China's open-source strategy",
        "intro": "One story this week: a long look at what DeepSeek plans next.",
        "closing_tldr": "",
        "days_ago": 600,
        "stories": [
            {
                "headline": "DeepSeek readies a sequel, and China bets on open source",
                "slug": "deepseek-sequel-china-open-source",
                "dek": "The lab that rattled Silicon Valley is preparing its next model, and "
                "Beijing sees open weights as a strategy, not a giveaway.",
                "body": "\n\n".join(
                    [
                        "DeepSeek is working on a successor to the reasoning model that upended "
                        "expectations in January.",
                        "The first model's success rested on efficiency: careful engineering that "
                        "squeezed more from fewer, less advanced chips.",
                        "A sequel will test whether that advantage lasts once rivals adopt the "
                        "same published techniques.",
                        "China's wider AI sector has taken a lesson from the reception: releasing "
                        "weights wins developers, and developers win ecosystems.",
                        "Open models travel where closed services cannot, into companies and "
                        "countries wary of sending data abroad.",
                        "That reach gives Chinese labs influence over the tools others build on, "
                        "even under export controls on advanced chips.",
                        "American labs face an awkward choice: keep their best models closed and "
                        "cede the open field, or open up and narrow their own lead.",
                        "Some have already responded with cheaper tiers and open-weight releases "
                        "of their own.",
                        "For investors, the question is whether spending on ever larger clusters "
                        "still buys a durable edge.",
                        "For policymakers, open weights complicate controls designed for a world "
                        "where capability lived in a few data centres.",
                        "For developers, the outcome is already clear: more capable models to "
                        "choose from, at lower prices.",
                        "Whatever DeepSeek releases next, the strategy it embodies is set to "
                        "outlast any single model.",
                    ]
                ),
                "topics": ["DeepSeek", "Open-source models", "AI governance"],
                "citations": [
                    {
                        "source": "The New York Times",
                        "title": "DeepSeek's next model and China's open-source push",
                        "url": "https://www.nytimes.com/section/technology",
                        "note": "Reworked from their reporting",
                    }
                ],
            },
        ],
    },
    {
        "number": 4,
        "format": "essay",
        "newsletter": "weekly-radar",
        "headline": "The AI Crucible: open models, video risks and the money behind it all",
        "intro": "This week's picks come from **The Sequence Radar**, the digest we lean on "
        "for a weekly view of research and industry. Four stories, then what they "
        "add up to.",
        "closing_tldr": "Open models keep closing the gap, video generation gets more capable "
        "and more dangerous, money pours into the infrastructure beneath it "
        "all, and the way software gets built is changing fastest of all.",
        "days_ago": 45,
        "stories": [
            {
                "headline": "DeepSeek V3.2 pushes open models further",
                "slug": "deepseek-v32-open-model",
                "dek": "An open-source release that is strong at coding and reasoning.",
                "body": "DeepSeek V3.2 is open source and performs well on coding and "
                "reasoning tasks, keeping pressure on closed models.",
                "topics": ["DeepSeek", "Open-source models"],
                "citations": [
                    {
                        "source": "The Sequence Radar",
                        "title": "The Sequence Radar",
                        "url": "https://thesequence.substack.com/",
                    }
                ],
            },
            {
                "headline": "Sora 2 raises the bar, and the stakes, for AI video",
                "slug": "sora-2-ai-video",
                "dek": "OpenAI's text-to-video model improves, with limits and deepfake risks.",
                "body": "Sora 2 turns text into more convincing video. It still has clear "
                "limits, and its realism sharpens worries about deepfakes.",
                "topics": ["OpenAI", "Sora", "AI video"],
                "citations": [
                    {
                        "source": "The Sequence Radar",
                        "title": "The Sequence Radar",
                        "url": "https://thesequence.substack.com/",
                    }
                ],
            },
            {
                "headline": "Periodic's $300M round shows where AI money flows",
                "slug": "periodic-300m-funding",
                "dek": "A large raise as a sign of capital moving into AI infrastructure.",
                "body": "Periodic raised **$300 million**, one more sign that investors are "
                "funding the infrastructure layer of AI.",
                "topics": ["AI infrastructure", "Markets"],
                "citations": [
                    {
                        "source": "The Sequence Radar",
                        "title": "The Sequence Radar",
                        "url": "https://thesequence.substack.com/",
                    }
                ],
            },
            {
                "headline": "Rails, Windows, and Shots: agents change how software is built",
                "slug": "rails-windows-and-shots",
                "dek": "AI assistants and agents are reshaping everyday development work.",
                "body": "## What's changing\n\nAssistants and agents now write, review and "
                "ship code alongside developers, and the tools around them are "
                "being rebuilt to match.\n\n## What it all means\n\nThe week's "
                "stories share one thread: capability is spreading, and the cost "
                "of using it keeps falling.",
                "topics": ["AI infrastructure"],
                "citations": [
                    {
                        "source": "The Sequence Radar",
                        "title": "The Sequence Radar",
                        "url": "https://thesequence.substack.com/",
                    }
                ],
            },
        ],
    },
    {
        "number": 5,
        "format": "digest",
        "newsletter": None,
        "headline": "Coming up: what efficiency means for chip demand",
        "intro": "Scheduled for next week.",
        "closing_tldr": "",
        "days_ago": None,
        "stories": [
            {
                "headline": "Does efficiency cut chip demand or grow it?",
                "slug": "efficiency-and-chip-demand",
                "dek": "Cheaper training could mean fewer GPUs, or many more uses for them.",
                "body": "Economists call it the Jevons paradox: when something gets cheaper "
                "to use, people often use much more of it.",
                "topics": ["Nvidia", "Training efficiency", "Markets"],
                "citations": [{"source": "Market data", "title": "Semiconductor index", "url": ""}],
            },
            {
                "headline": "What provenance labels can and cannot prove",
                "slug": "what-provenance-labels-prove",
                "dek": "C2PA metadata says where a file came from, not whether it is true.",
                "body": "Provenance metadata records who made a file and with which tool. "
                "It can be stripped, and it cannot say whether a scene happened.",
                "topics": ["AI video", "AI governance"],
                "citations": [
                    {
                        "source": "Company announcements",
                        "title": "C2PA overview",
                        "url": "https://c2pa.org/",
                    }
                ],
            },
        ],
    },
]

# Stories still in the editorial pipeline: (fields, topics, state).
UNPUBLISHED_STORIES = [
    (
        {
            "headline": "Open-weight licences compared",
            "slug": "open-weight-licences-compared",
            "dek": "Not every open model is open in the same way.",
            "body": "Work in progress.",
        },
        ["Open-source models"],
        "draft",
    ),
    (
        {
            "headline": "The real cost of a frontier model",
            "slug": "real-cost-frontier-model",
            "dek": "Chips are only part of the bill.",
            "body": "Outline: chips, power, people, data.",
        },
        ["AI infrastructure"],
        "draft",
    ),
    (
        {
            "headline": "Nvidia after the sell-off",
            "slug": "nvidia-after-the-sell-off",
            "dek": "How the chip maker's story changed in a month.",
            "body": "Nvidia's shares recovered part of their fall as buyers returned.",
        },
        ["Nvidia", "Markets"],
        "in_review",
    ),
]
