"""Families of well-translated web boilerplate, written with varied wording: what a crawl brings in by the thousand and
a translator learns nothing useful from. Used by the cluster tests and `benchmarks/clusters.py`.

Each family has several sentence shapes (not one template) with slots; every filling is a correct translation.
"""

from __future__ import annotations

import itertools
import random

# family -> list of (English, Spanish) shapes; {a}, {b} are filled from the family's slots, in step
FAMILIES: dict[str, list[tuple[str, str]]] = {
    "cookies": [
        ("This website uses cookies to {a}.", "Este sitio web utiliza cookies para {a}."),
        ("We use cookies to {a}.", "Utilizamos cookies para {a}."),
        (
            "By continuing to browse, you accept our use of cookies to {a}.",
            "Si continúa navegando, acepta nuestro uso de cookies para {a}.",
        ),
        (
            "You can disable cookies in your browser settings.",
            "Puede desactivar las cookies en la configuración de su navegador.",
        ),
        ("Our site stores cookies on your device to {a}.", "Nuestro sitio guarda cookies en su dispositivo para {a}."),
        ("Accept all cookies", "Aceptar todas las cookies"),
        ("Manage your cookie preferences {b}.", "Gestione sus preferencias de cookies {b}."),
        ("Third-party cookies help us to {a}.", "Las cookies de terceros nos ayudan a {a}."),
    ],
    "shop": [
        ("Add to cart: {a} for only {p} euros.", "Añadir al carrito: {a} por solo {p} euros."),
        ("Free shipping on orders over {p} euros.", "Envío gratuito en pedidos superiores a {p} euros."),
        ("{A} in stock, ships within {n} days.", "{A} en stock, se envía en {n} días."),
        ("Buy {a} now and save {n}%.", "Compre {a} ahora y ahorre un {n}%."),
        ("Price: {p} euros, VAT included.", "Precio: {p} euros, IVA incluido."),
        ("Customers who bought {a} also bought {b}.", "Los clientes que compraron {a} también compraron {b}."),
        ("Out of stock: {a} will be available again soon.", "Agotado: {a} volverá a estar disponible pronto."),
        (
            "Return your order within {n} days for a full refund.",
            "Devuelva su pedido en un plazo de {n} días y le reembolsaremos el importe.",
        ),
    ],
    "casino": [
        (
            "Play online casino games and win up to {p} euros.",
            "Juegue a los juegos de casino en línea y gane hasta {p} euros.",
        ),
        (
            "Get a welcome bonus of {p} euros at our casino.",
            "Obtenga un bono de bienvenida de {p} euros en nuestro casino.",
        ),
        ("Spin the slot machines for free and win real money.", "Gire las tragaperras gratis y gane dinero real."),
        ("The best online poker and roulette, {b}.", "El mejor póquer y ruleta en línea, {b}."),
        ("Bet on {a} with the best odds.", "Apueste por {a} con las mejores cuotas."),
        ("{N} free spins on your first deposit.", "{N} tiradas gratis en su primer depósito."),
        ("Join the casino today and double your deposit.", "Únase al casino hoy y duplique su depósito."),
        ("Online betting on {a}, {b}.", "Apuestas en línea sobre {a}, {b}."),
        ("Try your luck at blackjack and roulette {b}.", "Pruebe suerte en el blackjack y la ruleta {b}."),
    ],
    "copyright": [
        ("Copyright {y} {a}. All rights reserved.", "Copyright {y} {a}. Todos los derechos reservados."),
        ("© {y} {a}. All rights reserved.", "© {y} {a}. Todos los derechos reservados."),
        (
            "No part of this website may be reproduced without the written permission of {a}.",
            "Ninguna parte de este sitio web puede reproducirse sin el permiso por escrito de {a}.",
        ),
        ("All content on this site is the property of {a}.", "Todo el contenido de este sitio es propiedad de {a}."),
        ("Reproduction of the contents is prohibited {b}.", "Se prohíbe la reproducción de los contenidos {b}."),
        ("Legal notice and privacy policy of {a}.", "Aviso legal y política de privacidad de {a}."),
    ],
    "navigation": [
        ("Home | About us | Contact", "Inicio | Quiénes somos | Contacto"),
        ("Go back to the home page", "Volver a la página de inicio"),
        ("Skip to main content", "Saltar al contenido principal"),
        ("Home » {A} » {B}", "Inicio » {A} » {B}"),
        ("You are here: Home > {A}", "Usted está aquí: Inicio > {A}"),
        ("Back to top", "Volver arriba"),
        ("Next page", "Página siguiente"),
        ("Previous page", "Página anterior"),
        ("Site map | {A} | Contact", "Mapa del sitio | {A} | Contacto"),
        ("Main menu: {A}, {B}, contact", "Menú principal: {A}, {B}, contacto"),
    ],
    "newsletter": [
        ("Subscribe to our newsletter to {a}.", "Suscríbase a nuestro boletín para {a}."),
        (
            "Sign up for our newsletter and get {n}% off.",
            "Suscríbase a nuestro boletín y obtenga un {n}% de descuento.",
        ),
        ("Enter your email address to subscribe.", "Introduzca su dirección de correo electrónico para suscribirse."),
        (
            "You can unsubscribe from the newsletter at any time.",
            "Puede darse de baja del boletín en cualquier momento.",
        ),
        ("Thank you for subscribing to our newsletter!", "¡Gracias por suscribirse a nuestro boletín!"),
        ("Join {n} thousand readers: subscribe to {a}.", "Únase a {n} mil lectores: suscríbase para {a}."),
        ("Do not miss {b}: subscribe to our mailing list.", "No se pierda {b}: suscríbase a nuestra lista de correo."),
        ("Our weekly newsletter brings you {b}.", "Nuestro boletín semanal le trae {b}."),
    ],
}

# slot values per family, as (English, Spanish)
SLOTS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "cookies": {
        "a": [
            ("improve your experience", "mejorar su experiencia"),
            ("analyse our traffic", "analizar nuestro tráfico"),
            ("show you personalised ads", "mostrarle anuncios personalizados"),
            ("remember your preferences", "recordar sus preferencias"),
            ("offer you a better service", "ofrecerle un mejor servicio"),
            ("collect statistics about visits", "recopilar estadísticas sobre las visitas"),
            ("measure the audience of our pages", "medir la audiencia de nuestras páginas"),
            ("keep your session open", "mantener su sesión abierta"),
            ("share content on social networks", "compartir contenidos en las redes sociales"),
            ("understand how you use the site", "entender cómo utiliza el sitio"),
        ],
        "b": [("here", "aquí"), ("at any time", "en cualquier momento"), ("in the settings", "en la configuración")],
    },
    "shop": {
        "a": [
            ("the blue cotton shirt", "la camisa azul de algodón"),
            ("this leather bag", "este bolso de cuero"),
            ("the wireless headphones", "los auriculares inalámbricos"),
            ("the running shoes", "las zapatillas de correr"),
            ("a stainless steel watch", "un reloj de acero inoxidable"),
            ("the coffee maker", "la cafetera"),
            ("the kitchen knife set", "el juego de cuchillos de cocina"),
            ("a wool winter coat", "un abrigo de lana para el invierno"),
            ("the gaming laptop", "el portátil para juegos"),
            ("this silver necklace", "este collar de plata"),
        ],
        "b": [
            ("a phone case", "una funda de móvil"),
            ("a pair of socks", "un par de calcetines"),
            ("a travel mug", "una taza de viaje"),
        ],
    },
    "casino": {
        "a": [
            ("football", "el fútbol"),
            ("tennis matches", "los partidos de tenis"),
            ("horse races", "las carreras de caballos"),
            ("your favourite team", "su equipo favorito"),
            ("basketball", "el baloncesto"),
            ("the Champions League", "la Liga de Campeones"),
            ("boxing fights", "los combates de boxeo"),
            ("live games", "los partidos en directo"),
        ],
        "b": [
            ("all in one place", "todo en un mismo lugar"),
            ("open all night", "abierto toda la noche"),
            ("with instant withdrawals", "con retiradas instantáneas"),
            ("with live dealers", "con crupieres en directo"),
        ],
    },
    "copyright": {
        "a": [
            ("Acme Media", "Acme Media"),
            ("the publisher", "la editorial"),
            ("Global Press Ltd", "Global Press Ltd"),
            ("the authors", "los autores"),
            ("Sunrise Hotels", "Sunrise Hotels"),
            ("the city council", "el ayuntamiento"),
            ("the foundation", "la fundación"),
            ("Northwind Travel", "Northwind Travel"),
        ],
        "b": [("without prior authorisation", "sin autorización previa"), ("by any means", "por cualquier medio")],
    },
    "navigation": {
        "a": [],
        "b": [],
        "A": [("Products", "Productos"), ("News", "Noticias"), ("Services", "Servicios"), ("Blog", "Blog")],
        "B": [("Offers", "Ofertas"), ("Events", "Eventos"), ("Downloads", "Descargas"), ("Support", "Soporte")],
    },
    "newsletter": {
        "a": [
            ("receive our latest offers", "recibir nuestras últimas ofertas"),
            ("stay up to date", "estar al día"),
            ("receive exclusive discounts", "recibir descuentos exclusivos"),
            ("be the first to know about our events", "ser el primero en conocer nuestros eventos"),
            ("get our recipes every week", "recibir nuestras recetas cada semana"),
            ("get news about our products", "recibir novedades sobre nuestros productos"),
        ],
        "b": [
            ("the best deals", "las mejores ofertas"),
            ("news and tips", "noticias y consejos"),
            ("our latest articles", "nuestros últimos artículos"),
        ],
    },
}


def _filled(rng: random.Random, family: str, en: str, es: str) -> tuple[str, str]:
    slots = SLOTS[family]
    values = {}
    for name in ("a", "b"):
        choices = slots.get(name) or [("", "")]
        values[name] = rng.choice(choices)
    for name in ("A", "B"):
        choices = slots.get(name) or [
            (v.capitalize(), w.capitalize()) for v, w in slots.get(name.lower()) or [("", "")]
        ]
        values[name] = rng.choice(choices)
    n, p, y = (
        rng.choice([2, 3, 5, 7, 10, 15, 20, 30]),
        rng.choice([9.99, 19, 25, 49.90, 100, 250]),
        rng.randint(2008, 2024),
    )
    en_vals = {k: v[0] for k, v in values.items()} | {"n": n, "N": n, "p": p, "y": y}
    es_vals = {k: v[1] for k, v in values.items()} | {"n": n, "N": n, "p": str(p).replace(".", ","), "y": y}
    return en.format(**en_vals), es.format(**es_vals)


def family_pairs(family: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Up to `n` distinct pairs of one family (fewer when its shapes and slots run out)."""
    rng = random.Random(f"{family}-{seed}")
    shapes = FAMILIES[family]
    out: dict[tuple[str, str], None] = {}
    for attempt in itertools.count():
        if len(out) >= n or attempt > 50 * n:
            break
        en, es = shapes[attempt % len(shapes)] if attempt < len(shapes) else rng.choice(shapes)
        out.setdefault(_filled(rng, family, en, es))
    return list(out)


def boilerplate(per_family: int, families=None, seed: int = 0) -> list[tuple[str, str, str]]:
    """(source, target, family) rows, `per_family` of each family (or as many as it has)."""
    return [(s, t, f) for f in families or FAMILIES for s, t in family_pairs(f, per_family, seed)]
