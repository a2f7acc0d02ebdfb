"""The demo catalog that ``seed_catalog`` loads: 5 categories, 28 products, local images."""

from __future__ import annotations

CATEGORIES = [
    ("coffee", "Coffee"),
    ("tea", "Tea"),
    ("brewing-gear", "Brewing gear"),
    ("mugs-and-cups", "Mugs & cups"),
    ("snacks", "Snacks"),
]

# (sku, name, category slug, price, stock, description)
PRODUCTS = [
    ("COF-001", "Ethiopia Yirgacheffe", "coffee", "14.50", 40, "Floral, bright, notes of bergamot and lemon. 250 g whole beans."),
    ("COF-002", "Colombia Huila", "coffee", "12.90", 55, "Red apple and caramel; a dependable daily brew. 250 g."),
    ("COF-003", "Kenya Nyeri AA", "coffee", "16.80", 25, "Blackcurrant and grapefruit with a syrupy body. 250 g."),
    ("COF-004", "Brazil Cerrado", "coffee", "10.50", 80, "Chocolate and hazelnut, low acidity. 250 g."),
    ("COF-005", "House Espresso Blend", "coffee", "13.20", 60, "Dark chocolate crema for milk drinks. 500 g."),
    ("COF-006", "Decaf Mexico", "coffee", "12.40", 30, "Sugar-cane decaf with cocoa sweetness. 250 g."),
    ("TEA-001", "Sencha Asamushi", "tea", "9.80", 45, "Light-steamed green tea from Shizuoka. 100 g."),
    ("TEA-002", "Assam Breakfast", "tea", "7.50", 70, "Malty black tea that loves a splash of milk. 125 g."),
    ("TEA-003", "Darjeeling First Flush", "tea", "15.90", 20, "Muscatel and spring flowers. 100 g."),
    ("TEA-004", "Rooibos Vanilla", "tea", "6.90", 65, "Caffeine-free, naturally sweet. 125 g."),
    ("TEA-005", "Jasmine Pearls", "tea", "13.40", 35, "Hand-rolled green tea scented with jasmine. 100 g."),
    ("TEA-006", "Earl Grey Blue Flower", "tea", "8.20", 50, "Black tea with bergamot and cornflowers. 125 g."),
    ("GEAR-001", "Pour-over Dripper", "brewing-gear", "24.00", 30, "Ceramic cone dripper for one to two cups."),
    ("GEAR-002", "Gooseneck Kettle", "brewing-gear", "59.00", 12, "0.9 l kettle with a precise pour."),
    ("GEAR-003", "Hand Grinder", "brewing-gear", "89.00", 8, "Conical steel burrs, 40 grind settings."),
    ("GEAR-004", "French Press 1 l", "brewing-gear", "32.50", 22, "Borosilicate glass and a stainless frame."),
    ("GEAR-005", "Digital Scale", "brewing-gear", "27.90", 18, "0.1 g resolution with a built-in timer."),
    ("GEAR-006", "Paper Filters (100)", "brewing-gear", "5.50", 150, "Unbleached filters for cone drippers."),
    ("MUG-001", "Stoneware Mug", "mugs-and-cups", "16.00", 40, "Speckled glaze, 350 ml."),
    ("MUG-002", "Double-wall Glass", "mugs-and-cups", "12.50", 36, "Keeps drinks hot and hands cool, 250 ml."),
    ("MUG-003", "Espresso Cup Pair", "mugs-and-cups", "19.00", 24, "Two porcelain cups with saucers, 80 ml."),
    ("MUG-004", "Travel Tumbler", "mugs-and-cups", "28.00", 28, "Vacuum insulated, leak-proof lid, 400 ml."),
    ("MUG-005", "Teapot 0.8 l", "mugs-and-cups", "34.00", 15, "Cast-iron look enamel teapot with infuser."),
    ("SNK-001", "Almond Biscotti", "snacks", "4.90", 90, "Twice-baked Tuscan biscuits, 200 g."),
    ("SNK-002", "Dark Chocolate 72%", "snacks", "3.80", 120, "Single-origin bar from Peru, 80 g."),
    ("SNK-003", "Stroopwafels", "snacks", "4.20", 100, "Caramel syrup waffles from Gouda, 8 pieces."),
    ("SNK-004", "Salted Caramels", "snacks", "6.50", 60, "Soft butter caramels with sea salt, 150 g."),
    ("SNK-005", "Oat Cookies", "snacks", "3.60", 75, "Chewy oat and raisin cookies, 6 pieces."),
]
