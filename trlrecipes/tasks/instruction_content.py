"""The written material of the instruction task: everyday questions and the wordings of each constraint kind.

Hand-written for trlrecipes. A question comes with two words a good answer may well use (for "include the word")
and the topic word an answer almost always uses (for "do not use the word": a real restriction, not a free pass).
Training and test questions are disjoint. Each kind has training wordings and wordings kept for the test set only,
so a trained model is checked on phrasings it never saw; build_instructions.py turns these into prompt rows.

Placeholders in wordings: {n} the number in digits, {n_word} in words, {s} "s" unless n is 1, {phrase}, {word},
{marker}.
"""

from __future__ import annotations

# (question, words an answer may use, topic word an answer almost always uses)
TRAIN_QUESTIONS = (
    # cooking
    ("How do I keep fresh basil from wilting?", ("water", "leaves"), "basil"),
    ("What is the easiest way to cook rice on the stove?", ("water", "lid"), "rice"),
    ("How can I tell if an egg is still fresh?", ("water", "smell"), "egg"),
    ("Why does bread go stale?", ("moisture", "air"), "bread"),
    ("How do I make a simple tomato sauce?", ("garlic", "simmer"), "tomatoes"),
    ("What can I cook with leftover rice?", ("eggs", "vegetables"), "rice"),
    ("How long should I boil pasta?", ("minutes", "salt"), "pasta"),
    ("How do I stop onions from making me cry?", ("knife", "cold"), "onions"),
    ("What is a quick healthy breakfast?", ("oats", "fruit"), "breakfast"),
    ("How do I soften butter quickly?", ("warm", "minutes"), "butter"),
    ("How should I store fresh strawberries?", ("fridge", "wash"), "strawberries"),
    ("What makes a pancake fluffy?", ("batter", "eggs"), "pancake"),
    ("How do I cook a soft-boiled egg?", ("minutes", "water"), "egg"),
    ("Why do dessert recipes ask for a pinch of salt?", ("flavor", "sweet"), "salt"),
    ("How do I keep a cut avocado from turning brown?", ("lemon", "air"), "avocado"),
    ("What spices go well with roasted carrots?", ("cumin", "honey"), "carrots"),
    ("How can I make my soup less salty?", ("potato", "water"), "soup"),
    ("How do I know when a steak is done?", ("thermometer", "temperature"), "steak"),
    ("What is the difference between baking soda and baking powder?", ("acid", "rise"), "baking"),
    ("How do I clean a cast iron pan?", ("oil", "water"), "pan"),
    # travel
    ("What should I pack for a weekend beach trip?", ("sunscreen", "towel"), "beach"),
    ("How can I sleep better on a long flight?", ("pillow", "water"), "flight"),
    ("How early should I arrive at the airport?", ("hours", "security"), "airport"),
    ("What is a good way to save money on train tickets?", ("early", "discount"), "tickets"),
    ("How do I avoid jet lag?", ("sleep", "light"), "jet lag"),
    ("What should I do if I lose my passport abroad?", ("embassy", "police"), "passport"),
    ("How do I pack a suitcase so my clothes do not wrinkle?", ("roll", "fold"), "clothes"),
    ("What should I bring on a day hike?", ("water", "map"), "hike"),
    ("How can I stay safe when traveling alone?", ("phone", "plans"), "safe"),
    ("What is the best way to explore a new city on foot?", ("map", "walking"), "city"),
    ("How do I keep my phone charged while traveling?", ("battery", "charger"), "phone"),
    ("What are good snacks for a long car ride?", ("nuts", "fruit"), "snacks"),
    ("How can I learn a few words before visiting another country?", ("app", "practice"), "words"),
    ("What should I check before renting a car?", ("insurance", "fuel"), "car"),
    ("How do I keep my valuables safe in a hotel?", ("safe", "lock"), "hotel"),
    # weather
    ("Why does it rain?", ("clouds", "water"), "rain"),
    ("What causes thunder?", ("lightning", "air"), "thunder"),
    ("How should I dress for very cold weather?", ("layers", "hat"), "cold"),
    ("Why is it colder on top of a mountain?", ("air", "pressure"), "mountain"),
    ("How do rainbows form?", ("sunlight", "water"), "rainbow"),
    ("What should I do during a thunderstorm?", ("indoors", "lightning"), "storm"),
    ("Why does fog form in the morning?", ("air", "cool"), "fog"),
    ("How can I keep my home cool in a heat wave?", ("curtains", "fan"), "heat"),
    ("What is the difference between weather and climate?", ("years", "temperature"), "weather"),
    ("Why does snow look white?", ("light", "crystals"), "snow"),
    ("How do I read a weather forecast?", ("temperature", "percent"), "forecast"),
    ("Why is the sky blue?", ("light", "scattering"), "blue"),
    ("What makes the wind blow?", ("air", "pressure"), "wind"),
    # pets
    ("How often should I feed my cat?", ("day", "food"), "cat"),
    ("How do I teach my dog to sit?", ("treat", "reward"), "dog"),
    ("Why does my cat purr?", ("happy", "content"), "purr"),
    ("How often should I walk a puppy?", ("minutes", "day"), "puppy"),
    ("What do pet rabbits eat?", ("hay", "vegetables"), "rabbits"),
    ("How do I keep a fish tank clean?", ("water", "filter"), "tank"),
    ("Why does my dog bark at night?", ("noise", "attention"), "bark"),
    ("How can I help a new cat settle in?", ("room", "quiet"), "cat"),
    ("How do I trim my dog's nails safely?", ("quick", "treat"), "nails"),
    ("What should I have ready before getting a hamster?", ("cage", "bedding"), "hamster"),
    ("How do I know if my pet is too hot?", ("panting", "water"), "pet"),
    ("Why do cats knock things off tables?", ("play", "attention"), "cats"),
    ("How can I stop my dog from pulling on the leash?", ("stop", "reward"), "leash"),
    ("How often should a dog get a bath?", ("weeks", "shampoo"), "bath"),
    # health basics
    ("How much water should I drink each day?", ("glasses", "thirst"), "water"),
    ("How can I fall asleep faster?", ("screens", "routine"), "sleep"),
    ("Why is it important to wash my hands?", ("germs", "soap"), "hands"),
    ("What are easy ways to move more at a desk job?", ("stretch", "walk"), "desk"),
    ("How do I take care of a small cut?", ("bandage", "clean"), "cut"),
    ("What helps with a sore throat?", ("tea", "honey"), "throat"),
    ("How can I protect my skin from the sun?", ("sunscreen", "shade"), "sun"),
    ("Why should I stretch before exercise?", ("muscles", "injury"), "stretch"),
    ("How can I relax after a stressful day at work?", ("walk", "breathe"), "stress"),
    ("How often should I replace my toothbrush?", ("months", "bristles"), "toothbrush"),
    ("What makes a balanced lunch?", ("protein", "vegetables"), "lunch"),
    ("How can I rest my eyes when I use a computer all day?", ("screen", "break"), "eyes"),
    ("What should I eat before a morning run?", ("banana", "toast"), "run"),
    ("How do I keep good posture while sitting?", ("back", "feet"), "posture"),
    # money
    ("How do I start a monthly budget?", ("income", "expenses"), "budget"),
    ("What is a simple way to save money on groceries?", ("list", "sales"), "groceries"),
    ("Why should I have an emergency fund?", ("expenses", "months"), "emergency"),
    ("How can I spend less on coffee?", ("home", "mug"), "coffee"),
    ("What is compound interest?", ("savings", "grows"), "interest"),
    ("How do I teach a child about money?", ("jar", "save"), "money"),
    ("What is the difference between a debit card and a credit card?", ("bank", "borrow"), "card"),
    ("How can I avoid impulse buying?", ("wait", "list"), "buy"),
    ("How do I split a restaurant bill fairly?", ("app", "share"), "bill"),
    ("What should I think about before buying a used phone?", ("battery", "price"), "phone"),
    ("How can I lower my electricity bill?", ("lights", "unplug"), "electricity"),
    ("Is it better to rent or buy a bike for a short holiday?", ("cost", "days"), "bike"),
    # science for kids
    ("Why do leaves change color in autumn?", ("chlorophyll", "sunlight"), "leaves"),
    ("How do plants drink water?", ("roots", "stem"), "plants"),
    ("Why does the moon change shape?", ("sun", "light"), "moon"),
    ("How do bees make honey?", ("nectar", "flowers"), "bees"),
    ("Why do we have seasons?", ("tilt", "sun"), "seasons"),
    ("What makes a magnet stick to the fridge?", ("metal", "iron"), "magnet"),
    ("How do birds fly?", ("wings", "air"), "birds"),
    ("Why does ice float in water?", ("dense", "lighter"), "ice"),
    ("Where does the sun go at night?", ("Earth", "spins"), "sun"),
    ("Why do we see lightning before we hear thunder?", ("light", "sound"), "thunder"),
    ("How do caterpillars turn into butterflies?", ("chrysalis", "wings"), "caterpillar"),
    ("What are clouds made of?", ("water", "droplets"), "clouds"),
    ("Why do boats float?", ("water", "weight"), "boat"),
    ("How does a seed grow into a plant?", ("soil", "roots"), "seed"),
    ("Why do stars twinkle?", ("atmosphere", "air"), "stars"),
    ("What is a volcano?", ("lava", "magma"), "volcano"),
    ("Why do we need to sleep?", ("brain", "body"), "sleep"),
    # home and garden
    ("How often should I water a cactus?", ("soil", "weeks"), "cactus"),
    ("How do I get rid of fruit flies in the kitchen?", ("vinegar", "trap"), "flies"),
    ("What is the best way to clean a window without streaks?", ("vinegar", "cloth"), "window"),
    ("How do I keep my houseplants alive while I am on holiday?", ("water", "bottle"), "plants"),
    ("How can I make a small room feel bigger?", ("mirror", "light"), "room"),
    ("How do I remove a coffee stain from a shirt?", ("cold", "soap"), "stain"),
    ("How often should I change my bed sheets?", ("week", "wash"), "sheets"),
    ("What vegetables are easy to grow on a balcony?", ("tomatoes", "pots"), "balcony"),
    ("How do I start composting at home?", ("scraps", "bin"), "compost"),
    ("How can I keep my fridge smelling fresh?", ("baking", "clean"), "fridge"),
    ("How do I unclog a slow sink?", ("vinegar", "plunger"), "sink"),
    ("How do I fold a fitted sheet?", ("corners", "tuck"), "sheet"),
    # study, work, everyday tech
    ("How can I remember what I read?", ("notes", "review"), "read"),
    ("How do I prepare for a job interview?", ("practice", "research"), "interview"),
    ("What is a good way to study for a test?", ("practice", "breaks"), "study"),
    ("How can I stop putting things off?", ("small", "timer"), "tasks"),
    ("How do I write a polite email to my teacher?", ("thank", "subject"), "email"),
    ("How can I make a strong password?", ("symbols", "long"), "password"),
    ("How do I free up space on my phone?", ("photos", "apps"), "space"),
    ("What should I do if my laptop is running slowly?", ("restart", "programs"), "laptop"),
    ("How can I keep my email inbox under control?", ("folders", "unsubscribe"), "inbox"),
    ("How do I take a good photo with my phone?", ("light", "focus"), "photo"),
    ("How can I be on time more often?", ("alarm", "earlier"), "time"),
    # hobbies and social life
    ("How do I start running as a beginner?", ("slowly", "shoes"), "running"),
    ("What is a good first board game for a family?", ("players", "rules"), "game"),
    ("How can I get better at drawing?", ("practice", "sketch"), "drawing"),
    ("How do I choose a good book to read?", ("reviews", "genre"), "book"),
    ("How can I make new friends in a new town?", ("club", "volunteer"), "friends"),
    ("How do I learn to juggle?", ("balls", "practice"), "juggle"),
    ("What should I bring to a picnic?", ("blanket", "sandwiches"), "picnic"),
    ("How can I get better at remembering names?", ("repeat", "face"), "names"),
    ("How do I thank a friend for a gift?", ("note", "card"), "gift"),
    ("How do I plan a small birthday party?", ("guests", "cake"), "party"),
    ("What is a fun rainy day activity for kids?", ("crafts", "games"), "rainy"),
    ("How do I start learning the guitar?", ("chords", "practice"), "guitar"),
)

TEST_QUESTIONS = (
    # cooking
    ("How do I keep cookies soft after baking?", ("container", "bread"), "cookies"),
    ("What is the best way to reheat pizza?", ("pan", "oven"), "pizza"),
    ("How can I tell if a melon is ripe?", ("smell", "heavy"), "melon"),
    ("How do I make scrambled eggs creamy?", ("butter", "heat"), "eggs"),
    ("Why do apples turn brown after I cut them?", ("air", "lemon"), "apples"),
    ("How do I cook frozen vegetables so they are not soggy?", ("pan", "steam"), "vegetables"),
    ("What should I keep in the pantry for quick meals?", ("pasta", "beans"), "pantry"),
    ("How do I sharpen a kitchen knife?", ("stone", "angle"), "knife"),
    # travel
    ("How do I choose a good hotel?", ("reviews", "location"), "hotel"),
    ("What should I do if my flight is cancelled?", ("airline", "refund"), "flight"),
    ("How can I avoid getting lost in a new city?", ("map", "phone"), "city"),
    ("What should I pack for a ski trip?", ("gloves", "goggles"), "ski"),
    ("How do I stay comfortable on an overnight bus?", ("pillow", "blanket"), "bus"),
    ("How can I travel with only a backpack?", ("pack", "light"), "backpack"),
    ("What is a good way to keep travel documents organized?", ("folder", "copies"), "documents"),
    # weather
    ("Why can it hail in summer?", ("ice", "clouds"), "hail"),
    ("How do hurricanes form?", ("ocean", "warm"), "hurricanes"),
    ("What should I wear on a rainy day?", ("boots", "umbrella"), "rain"),
    ("Why are some days more humid than others?", ("water", "air"), "humid"),
    ("How do I protect my garden from frost?", ("cover", "night"), "frost"),
    ("What does a high pollen count mean?", ("allergies", "air"), "pollen"),
    # pets
    ("How do I choose a dog that fits my home?", ("size", "energy"), "dog"),
    ("Why does my cat scratch the sofa?", ("claws", "post"), "scratch"),
    ("How often should I clean a birdcage?", ("week", "water"), "cage"),
    ("What should I feed a pet turtle?", ("vegetables", "pellets"), "turtle"),
    ("How do I help my dog stay calm during fireworks?", ("quiet", "room"), "fireworks"),
    ("How can I tell if my cat is happy?", ("purring", "tail"), "cat"),
    # health basics
    ("How can I drink more water during the day?", ("bottle", "reminder"), "water"),
    ("What helps with a headache?", ("water", "rest"), "headache"),
    ("Why is breakfast important?", ("energy", "morning"), "breakfast"),
    ("How do I take care of a sunburn?", ("aloe", "cool"), "sunburn"),
    ("How can I keep my back healthy?", ("posture", "exercise"), "back"),
    ("What are easy ways to eat more vegetables?", ("soup", "snacks"), "vegetables"),
    ("How much sleep does a teenager need?", ("hours", "night"), "sleep"),
    # money
    ("How do I save for a holiday?", ("month", "account"), "save"),
    ("What is a good way to track my spending?", ("app", "receipts"), "spending"),
    ("How can I save money on clothes?", ("secondhand", "sales"), "clothes"),
    ("Why should I compare prices before buying something?", ("money", "stores"), "prices"),
    ("How do I give children pocket money wisely?", ("save", "weekly"), "money"),
    ("What should I know before lending money to a friend?", ("repay", "trust"), "friend"),
    # science for kids
    ("Why do cats have whiskers?", ("sense", "space"), "whiskers"),
    ("How do fish breathe underwater?", ("gills", "oxygen"), "fish"),
    ("Why is the ocean salty?", ("rivers", "rocks"), "salt"),
    ("Why do we have day and night?", ("spins", "sun"), "Earth"),
    ("What makes popcorn pop?", ("steam", "kernel"), "popcorn"),
    ("How do spiders make webs?", ("silk", "threads"), "spiders"),
    ("Why do my ears pop on a plane?", ("pressure", "air"), "ears"),
    ("How do dolphins sleep?", ("brain", "breathe"), "dolphins"),
    ("Why does a balloon stick to the wall after I rub it on my hair?", ("static", "charge"), "balloon"),
    # home and garden
    ("How do I get rid of a musty smell in a closet?", ("baking", "air"), "smell"),
    ("How can I keep my kitchen sponge clean?", ("microwave", "dry"), "sponge"),
    ("What is the easiest way to clean a microwave?", ("lemon", "steam"), "microwave"),
    ("How do I keep cut flowers fresh longer?", ("water", "stems"), "flowers"),
    ("How can I make my mornings less rushed?", ("night", "clothes"), "morning"),
    # study, work, everyday tech
    ("How do I make a good to-do list?", ("tasks", "priority"), "list"),
    ("How can I focus better while working from home?", ("desk", "breaks"), "work"),
    ("How do I back up the photos on my phone?", ("cloud", "computer"), "photos"),
    ("How can I learn to type faster?", ("practice", "keys"), "typing"),
    # hobbies and social life
    ("How do I start a small herb garden?", ("pots", "sunlight"), "herbs"),
    ("What is a good way to start knitting?", ("needles", "yarn"), "knitting"),
    ("How can I get better at chess?", ("puzzles", "practice"), "chess"),
    ("How do I plan a simple camping trip?", ("tent", "water"), "camping"),
)

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}

# Parameter pools, drawn from by the builder's seed.
PARAMS = {
    "max_words": (12, 15, 20, 25, 30, 40),
    "min_words": (30, 40, 50),
    "sentences": (1, 2, 3),
    "paragraphs": (2, 3),
    "bullets": (2, 3, 4, 5),
    "numbered": (3, 4, 5),
    "bold": (1, 2, 3),
}
START_PHRASES = ("Sure!", "Good question.", "Here is my answer:", "In short,", "Great question!", "Well,")
END_PHRASES = ("Hope this helps!", "Is there anything else?", "That is all.", "Have a great day!", "Good luck!")

# kind -> (training wordings, test-only wordings)
WORDINGS = {
    "max_words": (
        (
            "Use no more than {n} words.",
            "Keep your answer to {n} words or fewer.",
            "Answer in at most {n} words.",
            "Please keep it short: {n} words at most.",
        ),
        ("Your reply must not go over {n} words.", "Limit yourself to {n} words."),
    ),
    "min_words": (
        (
            "Write at least {n} words.",
            "Your answer should be {n} words or longer.",
            "Use a minimum of {n} words.",
        ),
        ("Give a full answer of no fewer than {n} words.",),
    ),
    "sentences": (
        (
            "Answer in exactly {n_word} sentence{s}.",
            "Reply using {n_word} sentence{s}, no more and no fewer.",
            "Your answer must be exactly {n} sentence{s} long.",
        ),
        ("Say it in precisely {n_word} sentence{s}.",),
    ),
    "paragraphs": (
        (
            "Write exactly {n_word} paragraphs, separated by a blank line.",
            "Split your answer into {n} paragraphs with an empty line between them.",
            "Your reply should have exactly {n_word} paragraphs.",
        ),
        ("Organize the answer as {n_word} paragraphs divided by blank lines.",),
    ),
    "bullets": (
        (
            'Answer with exactly {n_word} bullet points, each starting with "- ".',
            "Give {n} bullet points using dashes, no more and no fewer.",
            "Format your reply as a list of exactly {n} bullet points.",
        ),
        ("List exactly {n_word} points as markdown bullets.",),
    ),
    "numbered": (
        (
            "Give your answer as a numbered list with exactly {n} items.",
            "Answer in {n_word} numbered steps (1., 2., and so on).",
            "Write exactly {n} numbered points.",
        ),
        ("Reply with a numbered list of precisely {n_word} entries.",),
    ),
    "bold": (
        (
            "Put at least {n_word} key phrase{s} in bold using **double asterisks**.",
            "Highlight at least {n} important word{s} in bold, like **this**.",
            "Use markdown bold for at least {n_word} part{s} of your answer.",
        ),
        ("Make at least {n_word} phrase{s} bold with markdown.",),
    ),
    "starts_with": (
        (
            'Begin your reply with "{phrase}"',
            'Start your answer with the words "{phrase}"',
            "Your first words must be: {phrase}",
        ),
        ('Open your response with "{phrase}" exactly.',),
    ),
    "ends_with": (
        (
            'End your reply with "{phrase}"',
            'Finish your answer with the exact phrase "{phrase}"',
            'The last words of your reply must be "{phrase}"',
        ),
        ('Close your response with "{phrase}" and nothing after it.',),
    ),
    "include_keyword": (
        (
            'Use the word "{word}" in your answer.',
            'Make sure your reply includes the word "{word}".',
            'Mention "{word}" somewhere in your answer.',
        ),
        ('Your response has to contain the word "{word}".',),
    ),
    "exclude_keyword": (
        (
            'Do not use the word "{word}".',
            'Avoid the word "{word}" in your reply.',
            'Answer without ever writing the word "{word}".',
        ),
        ('The word "{word}" must not appear in your response.',),
    ),
    "no_commas": (
        ("Do not use any commas.", "Write your reply without a single comma.", "Avoid commas entirely."),
        ("Commas are not allowed in your answer.",),
    ),
    "lowercase": (
        (
            "Write your whole answer in lowercase letters.",
            "Use only lowercase letters, no capitals at all.",
            "Answer entirely in lowercase.",
        ),
        ("Do not use any capital letters in your response.",),
    ),
    "uppercase": (
        (
            "Write your whole answer in capital letters.",
            "Answer in ALL CAPS.",
            "Use only uppercase letters in your reply.",
        ),
        ("Every letter of your response must be a capital.",),
    ),
    "title": (
        (
            "Start with a title wrapped in double angle brackets, like <<Title>>.",
            "Give your answer a title on the first line in the form <<title>>.",
            "Put a title in double angle brackets, such as <<My Answer>>, on its own first line.",
        ),
        ("Begin with a title on its own line, enclosed in << and >>.",),
    ),
    "json": (
        (
            "Format your entire answer as valid JSON.",
            "Reply only with a JSON object.",
            "Your whole response must be valid JSON, with no text outside it.",
        ),
        ("Return the answer as JSON and nothing else.",),
    ),
    "postscript": (
        (
            "End with a postscript that starts with {marker}",
            "Add a {marker} at the end of your reply.",
            'After your answer, add a short note starting with "{marker}"',
        ),
        ("Finish with a postscript line beginning with {marker}",),
    ),
    "quoted": (
        (
            "Wrap your entire reply in double quotation marks.",
            "Put your whole answer inside double quotes.",
            "Enclose your response in double quotes from start to finish.",
        ),
        ("Your whole reply must begin and end with a double quotation mark.",),
    ),
}

# starts_with with the question itself as the phrase: "repeat the question, then answer".
REPEAT_WORDINGS = (
    ("First repeat the question word for word, then answer it.", "Begin by restating my question exactly as written."),
    ("Copy the question word for word at the start of your reply, then answer.",),
)
