"""Messages the bundled model cannot answer, and the one reply it gives them.

A user who says "hi", asks what the model is, asks for a proof, a word problem, general
knowledge, something in another language, or types gibberish must get an honest paragraph
saying what noema-tiny is and what it solves, never an empty reply or a made-up calculation.
Near-misses (integrals, trigonometry, primes, large powers, decimals, inequalities, equations
without rational roots) are out of scope too: they look like the families but are not.

The reply never contains `\\boxed{}`; its opening sentence depends on the kind of message.
"""

from __future__ import annotations

import random

from noema_core.training.curriculum.phrasing import casual
from noema_core.training.curriculum.problem import Problem

ABOUT = ("I'm noema-tiny, the small diffusion model bundled with Noema. I solve school-math "
         "exercises step by step: arithmetic, order of operations, fractions, linear and "
         "quadratic equations, systems of two linear equations, and expanding, simplifying "
         "or differentiating polynomials. Try, for example: \"What is 48 + 37?\", "
         "\"Solve 3x + 5 = 20\" or \"Expand (2x - 1)^2\".")
OPENERS = {
    "greeting": "Hello! ",
    "thanks": "You're welcome! ",
    "about": "",
    "unsupported": "I can't answer that one. ",
    "not_understood": "Sorry, I didn't understand that. ",
}


def reply(kind: str) -> str:
    return OPENERS[kind] + ABOUT


NAMES = ["Tom", "Sarah", "Ali", "Mia", "Priya", "Jonas", "Lena", "Carlos", "Yuki", "Omar",
         "Emma", "Noah", "Ava", "Liam", "Zoe", "Ben", "Chloe", "Ivan", "Fatima", "Leo"]
ITEMS = ["apples", "marbles", "books", "stickers", "pencils", "cookies", "coins", "cards",
         "oranges", "stamps", "shells", "balloons", "toy cars", "eggs", "cupcakes"]

GREETINGS = ["hi", "hello", "hey", "hiya", "good morning", "good afternoon", "good evening",
             "yo", "howdy", "greetings", "hi there", "hello noema", "hey, how are you?",
             "how's it going?", "what's up", "hello?", "hi :)", "hey there!", "morning",
             "hello, anyone there?", "sup", "hi, nice to meet you", "hallo", "heya",
             "good day", "hello friend", "hi noema-tiny", "hey buddy"]
THANKS = ["thanks", "thank you", "thx", "thanks a lot!", "ok thanks", "cool, thanks",
          "great, thank you", "ty", "thank you so much", "ok", "okay", "cool", "nice", "bye",
          "goodbye", "see you", "cheers", "perfect", "got it", "lol", "great job", "awesome"]
ABOUT_Q = ["what are you able to do?", "what are you?", "what is noema?", "who is this?",
           "what is this model?", "are you gpt-4?", "are you an AI?", "are you a robot?",
           "are you human?", "which model are you?", "who made you?", "who trained you?",
           "how do you work?", "what can I ask you?", "help", "what kind of questions can you "
           "answer?", "what do you know?", "what are you good at?", "how smart are you?",
           "what's your name?", "tell me about yourself", "what should I ask?", "how big are "
           "you?", "can you do integrals?", "can you do geometry?", "do you know calculus?",
           "what topics do you cover?", "give me an example question", "what is this app?",
           "help me", "?", "how do I use you?", "what languages do you speak?", "menu",
           "what can you help with?", "who am I talking to?", "what do you do?", "commands",
           "are you an LLM?", "explain what you can solve"]
STATEMENTS = ["the square root of 5 is irrational", "there are infinitely many even numbers",
              "the sum of two odd numbers is even", "the product of two odd numbers is odd",
              "n^2 + n is always even", "the angles of a triangle add up to 180 degrees",
              "there is no largest integer", "1 + 2 + ... + n = n(n+1)/2",
              "every integer greater than 1 has a prime factor", "sqrt(3) is irrational",
              "a^2 + b^2 >= 2ab for all real a and b", "the sum of the first n odd numbers "
              "is n^2", "0.999... = 1", "the derivative of x^n is nx^(n-1)",
              "a number is divisible by 3 if its digits sum to a multiple of 3",
              "the diagonals of a rectangle are equal", "log 2 is irrational",
              "x^2 - 2x + 1 is never negative", "e is irrational", "pi is irrational"]
PROOF_Q = ["Prove that {s}.", "prove {s}", "Show that {s}.", "Can you prove that {s}?",
           "Give a proof that {s}.", "Why is it true that {s}?", "prove that {s} please",
           "I need a proof that {s}", "Explain why {s}."]
WORD_Q = [
    "{n} has {a} {i} and buys {b} more. How many {i} does {n} have now?",
    "{n} has {a} {i} and gives {b} to {m}. How many {i} are left?",
    "{n} had {a} {i}, bought {b} more and then lost {c}. How many does {n} have?",
    "A train travels at {a} km/h for {b} hours. How far does it go?",
    "{n} earns ${a} an hour. How much does {n} earn in {b} hours?",
    "If {b} {i} cost ${a}, how much do {c} {i} cost?",
    "A shirt costs ${a} and is {b}% off. What is the sale price?",
    "{n} is {a} years old and {m} is {b} years older. How old is {m}?",
    "There are {a} students in a class and {b} are absent. How many are present?",
    "A rectangle is {a} cm long and {b} cm wide. What is its area?",
    "{n} reads {a} pages a day. How many pages does {n} read in {b} weeks?",
    "{a} {i} are shared equally among {b} children. How many does each child get?",
    "{n} saves ${a} a week. How long until {n} has ${c}?",
    "A bus has {a} passengers. At the stop {b} get off and {c} get on. How many now?",
    "{n} buys {b} packs of {i} with {a} in each pack. How many {i} is that?",
    "How many minutes are there in {b} hours?",
    "A recipe needs {b} eggs for {c} people. How many eggs for {a} people?",
]
KNOWLEDGE_Q = [
    "What's the capital city of {country}?", "who is the author of {book}?",
    "who painted the Mona Lisa?",
    "will it rain tomorrow?", "tell me something funny", "write me a haiku about {t}",
    "what's a good recipe for {f}?", "how do you say '{phrase}' in {l}?", "What time is it?",
    "write a function that reverses a string in JavaScript", "Tell me about {t}.", "explain {t}",
    "I have a {h} test tomorrow, any tips?", "why are we here?",
    "recommend a good book", "What is the tallest mountain in the world?",
    "How far is the moon?", "who won the world cup?", "What's the best programming language?",
    "Write an email to my boss.", "summarize this article", "what is love?",
    "how many legs does a spider have?", "What is the boiling point of water?",
    "I'm tired", "what should I eat tonight?", "what is a black hole?",
    "When did World War II end?", "how do airplanes fly?", "tell me a story about {t}",
]
COUNTRIES = ["France", "Japan", "Brazil", "Kenya", "Canada", "Norway", "India", "Peru",
             "Egypt", "Australia", "Germany", "Mexico", "Italy", "Chile", "Vietnam"]
BOOKS = ["Macbeth", "Don Quixote", "Pride and Prejudice", "War and Peace", "1984",
         "The Odyssey", "Moby Dick", "Frankenstein"]
TOPICS = ["the sea", "cats", "autumn", "the stars", "friendship", "dinosaurs", "music",
          "the history of Rome", "photosynthesis", "gravity", "volcanoes", "the internet"]
FOODS = ["pasta", "rice", "an omelette", "pancakes", "soup", "a steak"]
PHRASES = ["good night", "thank you", "where is the station", "I love you", "hello"]
LANGUAGES = ["Spanish", "French", "German", "Japanese", "Italian", "Chinese"]
SUBJECTS = ["history", "chemistry", "English", "biology", "geography", "physics"]
FOREIGN = [
    "Hola, ¿cómo estás?", "Ciao, come stai?", "Olá, tudo bem?", "Привет, как дела?",
    "こんにちは、元気ですか？", "안녕하세요", "مرحبا، كيف حالك؟", "नमस्ते, आप कैसे हैं?",
    "Hallo, wer bist du?", "Merci beaucoup", "¿Dónde está la biblioteca?",
    "Qu'est-ce que tu sais faire ?", "Kannst du mir helfen?", "Buongiorno a tutti",
    "Je ne comprends pas", "¿Quién eres?", "Was kannst du?", "谢谢你", "Dziękuję bardzo",
    "Hej, hur mår du?", "Goedemorgen", "Merhaba, nasılsın?", "Tschüss!", "Adiós, amigo",
    "Ça va bien, et toi ?", "Wo ist der Bahnhof?", "今日は何曜日ですか？", "Как тебя зовут?",
]
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
SYLLABLES = ["glorb", "zix", "frab", "quux", "wub", "snerk", "plim", "gorp", "zax", "vop",
             "miff", "trel", "krum", "fnord", "yib", "dax", "wug", "tove", "borog", "glim"]
NEAR_MISS_Q = [
    "Find the antiderivative of x^{a}.", "integrate {a}x^2 + {b}", "limit of (x^2 - 1)/(x - 1) "
    "as x -> 1", "what is the limit of 1/x as x approaches infinity?",
    "what is sin({d} degrees)?", "cos(pi/{a})", "Is {p} prime?", "is {a} a prime?",
    "what is log base 3 of {q}", "what is ln(e^{a})?", "what is the square root of {s}?",
    "sqrt({s})", "What is {a}^{e}?", "{a}^{e} + {c}", "what is {a}.{b} + {c}.{d}?",
    "{a}.{d} * {b}.{c}", "What is {b}% of {c}?", "Solve {a}x + {b} > {c}", "solve x^3 - {q} = 0",
    "Solve 2^x = {q}", "solve |x - {a}| = {b}", "solve x^2 + {a} = 0", "Solve x^2 + {g}x + 1 = 0",
    "Differentiate sin(x)", "what is the derivative of e^x?", "d/dx ln(x)",
    "Factor {s}", "What is the gcd of {c} and {d}?", "lcm of {a} and {b}",
    "what is the mean of {a}, {b} and {c}?", "Convert {a} km to miles",
    "what is the area of a circle with radius {a}?", "what is {a}!", "Expand (x + {a})^{e}",
    "how many ways can {b} people sit in a row?", "What is the probability of rolling a {a}?",
    "find the inverse of the matrix [[1, {a}], [{b}, 1]]", "simplify sqrt({s})",
    "what is {a}^{e} - {b} * {c}?",
]


def _gibberish(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return "".join(rng.choice(KEYBOARD) for _ in range(rng.randint(3, 14)))
    if roll < 0.6:
        words = [rng.choice(SYLLABLES) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.5:  # numbers among the nonsense invite a made-up calculation
            words.insert(rng.randint(0, len(words)), str(rng.randint(0, 99)))
        return " ".join(words)
    if roll < 0.75:
        return rng.choice(["...", "!!!", "?!", "hmm", "asdf", "test", "aaaaaa", "..?", "zzz",
                           "idk", "meh", ":)", "###", "ok so", "hmmm ok", "12 apples", "x",
                           "what", "no"])
    letters = [rng.choice(KEYBOARD + "      ") for _ in range(rng.randint(6, 24))]
    return "".join(letters).strip() or "qwerty"


def _fill(rng: random.Random, template: str) -> str:
    values: dict[str, object] = {k: rng.randint(2, 12) for k in "abcd"}
    # Exponents from 6 up and x^2 + gx + 1 with g > 2 are out of every family's reach;
    # 2^3 + 4 * 5 or x^2 + 2x + 1 = 0 are in scope and must not be declined.
    values.update(e=rng.randint(6, 12), g=rng.randint(3, 12))
    values.update(n=rng.choice(NAMES), m=rng.choice(NAMES), i=rng.choice(ITEMS),
                  s=rng.choice([7, 12, 18, 50, 2, 3, 8]), p=rng.choice([91, 97, 51, 89, 57]),
                  q=rng.choice([8, 16, 32, 64, 27, 1024]), t=rng.choice(TOPICS),
                  f=rng.choice(FOODS), l=rng.choice(LANGUAGES), h=rng.choice(SUBJECTS),
                  country=rng.choice(COUNTRIES), book=rng.choice(BOOKS),
                  phrase=rng.choice(PHRASES))
    return template.format(**values)


KINDS = [  # (kind of message, how often, what it is)
    ("greeting", 0.16, lambda rng: rng.choice(GREETINGS)),
    ("thanks", 0.08, lambda rng: rng.choice(THANKS)),
    ("about", 0.16, lambda rng: rng.choice(ABOUT_Q)),
    ("unsupported", 0.08, lambda rng: rng.choice(PROOF_Q).format(s=rng.choice(STATEMENTS))),
    ("unsupported", 0.12, lambda rng: _fill(rng, rng.choice(WORD_Q))),
    ("unsupported", 0.1, lambda rng: _fill(rng, rng.choice(KNOWLEDGE_Q))),
    ("unsupported", 0.12, lambda rng: _fill(rng, rng.choice(NEAR_MISS_Q))),
    ("not_understood", 0.08, lambda rng: rng.choice(FOREIGN)),
    ("not_understood", 0.1, _gibberish),
]


def message(rng: random.Random, check: bool = True) -> Problem:
    """One out-of-scope message and its reply (`check` is accepted like the families')."""
    kind, _share, make = rng.choices(KINDS, weights=[k[1] for k in KINDS])[0]
    text = make(rng)
    if kind != "not_understood" and rng.random() < 0.5:
        text = casual(rng, text)
    return Problem("scope", text, reply(kind), "", ("scope", text))
