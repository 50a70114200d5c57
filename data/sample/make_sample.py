"""Writes the sample candidates and judged pairs (every sentence here was written for this project).

    python data/sample/make_sample.py     # rewrites candidates.tsv and judged.tsv beside this file

Good pairs are natural translations of everyday travel phrases; bad ones are the mistakes curation exists to
catch: literal renderings, wrong terminology, broken grammar, untranslated copies, truncations, misalignments,
wrong numbers, markup and URLs; some carry an email or phone number that must be masked.
"""

import random
from pathlib import Path

GOOD = [
    ("Where is the train station?", "¿Dónde está la estación de tren?"),
    ("I would like a double room for two nights.", "Quisiera una habitación doble para dos noches."),
    ("How much does a ticket to the airport cost?", "¿Cuánto cuesta un billete al aeropuerto?"),
    ("Could you call a taxi for me, please?", "¿Podría llamarme un taxi, por favor?"),
    ("The museum is closed on Mondays.", "El museo cierra los lunes."),
    ("Is breakfast included in the price?", "¿El desayuno está incluido en el precio?"),
    ("We missed the last bus to the city centre.", "Perdimos el último autobús al centro de la ciudad."),
    ("Can I pay by card?", "¿Puedo pagar con tarjeta?"),
    ("My suitcase did not arrive.", "Mi maleta no ha llegado."),
    ("What time does the pharmacy open?", "¿A qué hora abre la farmacia?"),
    ("A table for four, please.", "Una mesa para cuatro, por favor."),
    ("Is there a bank near here?", "¿Hay algún banco cerca de aquí?"),
    ("The flight has been delayed by two hours.", "El vuelo se ha retrasado dos horas."),
    ("I am allergic to peanuts.", "Soy alérgico a los cacahuetes."),
    ("Please keep the change.", "Quédese con el cambio, por favor."),
    ("Which platform does the train to Seville leave from?", "¿De qué andén sale el tren a Sevilla?"),
    ("I have lost my passport.", "He perdido el pasaporte."),
    ("Could we have the bill, please?", "¿Nos trae la cuenta, por favor?"),
    ("The room is too noisy; can I change it?", "La habitación es muy ruidosa; ¿puedo cambiarla?"),
    ("Do you have this jacket in a smaller size?", "¿Tiene esta chaqueta en una talla más pequeña?"),
    ("How do I get to the old town?", "¿Cómo llego al casco antiguo?"),
    ("The beach is a ten-minute walk from the hotel.", "La playa está a diez minutos a pie del hotel."),
    ("I need to see a doctor.", "Necesito ver a un médico."),
    ("Is the tap water safe to drink?", "¿Se puede beber el agua del grifo?"),
    ("We would like to rent a car for a week.", "Queremos alquilar un coche para una semana."),
    ("Check-out is at eleven o'clock.", "La salida es a las once."),
    ("Where can I buy a SIM card?", "¿Dónde puedo comprar una tarjeta SIM?"),
    ("The tour starts in front of the cathedral.", "La visita empieza delante de la catedral."),
    ("Can you recommend a good local restaurant?", "¿Me puede recomendar un buen restaurante de la zona?"),
    ("My phone battery is dead.", "Se me ha agotado la batería del móvil."),
    ("Are dogs allowed on the terrace?", "¿Se admiten perros en la terraza?"),
    ("The air conditioning does not work.", "El aire acondicionado no funciona."),
    ("I would like to change my booking.", "Quisiera cambiar mi reserva."),
    ("How long does the journey take?", "¿Cuánto dura el trayecto?"),
    ("Please write the address down for me.", "Por favor, apúnteme la dirección."),
    ("The shops close early on Sundays.", "Las tiendas cierran pronto los domingos."),
    ("Is there a lift in the building?", "¿Hay ascensor en el edificio?"),
    ("We are looking for a quiet campsite.", "Buscamos un camping tranquilo."),
    ("Where is the nearest cash machine?", "¿Dónde está el cajero automático más cercano?"),
    ("I would like a window seat.", "Quisiera un asiento de ventanilla."),
    ("The entrance fee is twelve euros.", "La entrada cuesta doce euros."),
    ("Can I leave my luggage here until the afternoon?", "¿Puedo dejar aquí el equipaje hasta la tarde?"),
    ("The next ferry leaves at 14:30.", "El próximo ferry sale a las 14:30."),
    ("Our room is on the third floor.", "Nuestra habitación está en la tercera planta."),
    ("Is this seat free?", "¿Está libre este asiento?"),
    ("The guide speaks English and Spanish.", "El guía habla inglés y español."),
    ("I would like to report a theft.", "Quiero denunciar un robo."),
    ("How often do the buses run at night?", "¿Con qué frecuencia pasan los autobuses por la noche?"),
    ("Could you take a photo of us?", "¿Nos podría hacer una foto?"),
    ("The children's menu costs 8 euros.", "El menú infantil cuesta 8 euros."),
    ("Turn left at the second traffic light.", "Gire a la izquierda en el segundo semáforo."),
    ("We got lost in the market.", "Nos perdimos en el mercado."),
    ("Is the swimming pool heated?", "¿La piscina está climatizada?"),
    ("I need a receipt for my company.", "Necesito un recibo para mi empresa."),
    ("The bridge is closed for repairs.", "El puente está cerrado por obras."),
    ("Do you sell tickets for the concert?", "¿Venden entradas para el concierto?"),
    ("The hotel has free wifi in every room.", "El hotel tiene wifi gratis en todas las habitaciones."),
    ("My train leaves in twenty minutes.", "Mi tren sale dentro de veinte minutos."),
    ("We would like two coffees with milk.", "Queremos dos cafés con leche."),
    ("Can you show me on the map?", "¿Me lo puede señalar en el mapa?"),
]
# realistic machine-translation mistakes, one per kind
LITERAL = [
    ("I am looking forward to seeing you.", "Estoy mirando adelante a verte."),
    ("It is raining cats and dogs.", "Está lloviendo gatos y perros."),
    ("Could you give me a hand with my bags?", "¿Podría darme una mano con mis bolsas?"),
    ("The room was a bit of a let-down.", "La habitación fue un poco de una dejada abajo."),
    ("Let's call it a day.", "Llamémoslo un día."),
    ("Can I get a refund?", "¿Puedo conseguir un reembolso?"),
    ("Keep an eye on your belongings.", "Mantenga un ojo en sus pertenencias."),
    ("We ran out of petrol on the motorway.", "Corrimos fuera de gasolina en la autopista."),
    ("The tickets are sold out.", "Los billetes están vendidos fuera."),
    ("I am fed up with waiting.", "Estoy alimentado arriba con esperar."),
]
TERMINOLOGY = [
    (
        "The boarding gate closes at 9:40.",
        "La puerta de embarque cierra a las 9:40.",
        "La puerta de abordaje cierra a las 9:40.",
    ),
    ("Please fasten your seat belt.", "Por favor, abróchese el cinturón.", "Por favor, sujete su correa del asiento."),
    ("Where is the baggage claim?", "¿Dónde está la recogida de equipajes?", "¿Dónde está la reclamación de equipaje?"),
    ("I would like a return ticket.", "Quisiera un billete de ida y vuelta.", "Quisiera un billete de retorno."),
    ("The lift is out of order.", "El ascensor no funciona.", "El levantamiento está fuera de orden."),
    ("Is there a cloakroom?", "¿Hay guardarropa?", "¿Hay un cuarto de capas?"),
]
GRAMMAR = [
    ("The rooms are very clean.", "Las habitaciones es muy limpio."),
    ("She booked the tickets yesterday.", "Ella reservar los billetes ayer."),
    ("Our guide was very friendly.", "Nuestra guía eran muy simpáticos."),
    ("The streets are narrow and old.", "Los calles son estrecha y viejo."),
    ("We have visited three museums.", "Nosotros ha visitado tres museo."),
    ("The beaches here are beautiful.", "La playas aquí es bonitas."),
]
# more of what curators meet: slips a fluent reader stops at, words that look right and mean something else,
# content left out, and natural translations to set against them
AGREEMENT = [
    ("The museum tickets are expensive.", "Las entradas del museo son caro."),
    ("Our bags are heavy.", "Nuestras maletas es pesadas."),
    ("The water in the pool is cold.", "El agua de la piscina está frío."),
    ("These streets are very busy.", "Estas calles es muy concurridos."),
    ("The new rooms are bigger.", "Las habitaciones nuevo son más grande."),
    ("My sister booked the flights.", "Mi hermana reservaron los vuelos."),
]
ARTICLES = [
    ("The bus to the airport is late.", "Autobús al aeropuerto llega tarde."),
    ("The hotel is next to the beach.", "Hotel está junto a playa."),
    ("The station is closed at night.", "Estación está cerrada por noche."),
    ("We visited the cathedral yesterday.", "Visitamos catedral ayer."),
]
FALSE_FRIENDS = [
    ("The guide was very sensible.", "El guía fue muy sensible."),
    ("I am embarrassed about the delay.", "Estoy embarazado por el retraso."),
    ("The museum has a large library.", "El museo tiene una gran librería."),
    ("Actually, the room is quite small.", "Actualmente, la habitación es bastante pequeña."),
    ("The tour was very exciting.", "La visita fue muy excitante."),
    ("Is there a pharmacy nearby? I have a cold.", "¿Hay una farmacia cerca? Tengo un frío."),
]
OMISSIONS = [
    ("The restaurant is closed on Mondays and Tuesdays.", "El restaurante cierra los lunes."),
    ("Breakfast is served from seven to ten in the dining room.", "El desayuno se sirve en el comedor."),
    ("Please leave the key at reception when you go out.", "Por favor, deje la llave."),
    ("The museum is free for children under twelve.", "El museo es gratis."),
    ("We need a taxi to the airport at six tomorrow.", "Necesitamos un taxi al aeropuerto."),
]
LITERAL_MORE = [
    ("What time is it?", "¿Qué tiempo es?"),
    ("I miss my family.", "Yo pierdo mi familia."),
    ("It doesn't matter.", "No materia."),
    ("Take your time.", "Tome su tiempo."),
    ("I am thirty years old.", "Soy treinta años viejo."),
]
GOOD_MORE = [
    ("Could you speak more slowly, please?", "¿Podría hablar más despacio, por favor?"),
    ("We have a reservation under the name García.", "Tenemos una reserva a nombre de García."),
    ("The museum is closed for renovation.", "El museo está cerrado por reformas."),
    ("How much is a single room?", "¿Cuánto cuesta una habitación individual?"),
    ("I'm allergic to shellfish.", "Soy alérgico al marisco."),
    ("The view from the terrace is amazing.", "Las vistas desde la terraza son impresionantes."),
    ("Where can I hire a bike?", "¿Dónde puedo alquilar una bici?"),
    ("Is there a discount for students?", "¿Hay descuento para estudiantes?"),
    ("The concert starts at nine.", "El concierto empieza a las nueve."),
    ("Excuse me, is this the way to the beach?", "Perdone, ¿por aquí se va a la playa?"),
    ("We'd like to sit outside.", "Nos gustaría sentarnos fuera."),
    ("The heating in our room isn't working.", "La calefacción de nuestra habitación no funciona."),
    ("Could I have the bill, please?", "¿Me trae la cuenta, por favor?"),
    ("How far is the old town from here?", "¿A qué distancia está el casco antiguo?"),
    ("I left my umbrella on the train.", "Me dejé el paraguas en el tren."),
    ("The market is open every morning except Sunday.", "El mercado abre todas las mañanas menos los domingos."),
    ("Do I need to book in advance?", "¿Hace falta reservar con antelación?"),
    ("The tap in the bathroom is dripping.", "El grifo del baño gotea."),
    ("Can we pay separately?", "¿Podemos pagar por separado?"),
    ("Our flight has been cancelled.", "Han cancelado nuestro vuelo."),
]
CONTACT = [
    (
        "For bookings, write to info.reservas@hotel-sol.example.",
        "Para reservas, escriba a info.reservas@hotel-sol.example.",
    ),
    ("Call us on +34 612 345 678 if you are late.", "Llámenos al +34 612 345 678 si llega tarde."),
    ("Ask for Marta at reception or phone 915 555 123.", "Pregunte por Marta en recepción o llame al 915 555 123."),
]


def write(path: Path, header: list[str], rows: list[tuple]) -> None:
    """Tab-separated, no quoting (like ../shared/data): no field holds a tab or a newline."""
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    assert not any("\n" in field or "\t" in field for row in rows for field in row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(out: Path = Path(__file__).parent) -> None:
    rng = random.Random(13)
    rows = []
    good = GOOD + GOOD_MORE + [(s, t) for s, t, _ in TERMINOLOGY]
    rows += [(s, t) for s, t in good]
    rows += LITERAL + LITERAL_MORE + GRAMMAR + AGREEMENT + ARTICLES + FALSE_FRIENDS + OMISSIONS + CONTACT
    rows += [(s, wrong) for s, _, wrong in TERMINOLOGY]
    copies = [(s, s) for s, _ in rng.sample(GOOD, 12)]  # untranslated copies
    rows += copies
    rows += [(s, t.split(" ", 2)[0] + " " + t.split(" ", 2)[1]) for s, t in rng.sample(GOOD, 12)]  # truncated
    shuffled = rng.sample(GOOD, 12)
    misaligned = [(a[0], b[1]) for a, b in zip(shuffled, shuffled[1:] + shuffled[:1], strict=True)]
    rows += misaligned
    rows += [
        ("The hotel is 5 km from the airport.", "El hotel está a 15 km del aeropuerto."),
        ("The bus leaves at 7:15.", "El autobús sale a las 17:15."),
        ("Dinner is served until 22:00.", "La cena se sirve hasta tarde."),
    ]  # numbers
    rows += [
        ("Click <b>here</b> to book.", "Haga clic <b>aquí</b> para reservar."),
        ("Book now at www.example-hotels.com today!", "¡Reserve ya en www.example-hotels.com hoy!"),
        ("See the &quot;terms&quot; page.", "Vea la página de &quot;condiciones&quot;."),
        ("", "Hola"),
        ("Thank you", "   "),
    ]  # markup, URL, empty
    rows += [
        ("Where is the train station?", "¿Dónde está la estación de tren?"),  # exact duplicate
        ("Where is the train station ?", "¿Dónde está la estación de tren ?"),
    ]  # duplicate after normalising
    # numbered variants of some phrases: many near-identical pairs, as scraped data has
    for i in range(2, 120):
        rows.append((f"Room {i} is ready.", f"La habitación {i} está lista."))
    for i in range(1, 40):
        rows.append((f"Your seat is {i}A.", f"Su asiento es el {i}A."))
    rng.shuffle(rows)
    write(out / "candidates.tsv", ["source", "target"], rows)
    write(out / "judged.tsv", ["source", "target", "label", "errors", "annotator"], judgments(copies, misaligned))
    print(f"{len(rows)} candidates, {len(judgments(copies, misaligned))} judgments written to {out}")


def judgments(copies: list, misaligned: list) -> list[tuple[str, str, str, str, str]]:
    """What two annotators answered: each judges every other pair, every fifth pair is judged by both (so their
    agreement can be measured), and they disagree on two of those."""
    labelled = [(s, t, "good", "") for s, t in GOOD[::3] + GOOD_MORE + [(s, t) for s, t, _ in TERMINOLOGY]]
    labelled += [(s, t, "bad", "literal") for s, t in LITERAL + LITERAL_MORE]
    labelled += [(s, t, "bad", "grammar") for s, t in GRAMMAR + AGREEMENT + ARTICLES]
    labelled += [(s, t, "bad", "mistranslation") for s, t in FALSE_FRIENDS]
    labelled += [(s, t, "bad", "omission_addition") for s, t in OMISSIONS]
    labelled += [(s, wrong, "bad", "terminology") for s, _, wrong in TERMINOLOGY]
    labelled += [(s, t, "bad", "wrong_language") for s, t in copies[:5]]
    labelled += [(s, t, "bad", "other") for s, t in misaligned[:4]]
    out, disagreements = [], 0
    for i, (s, t, label, errors) in enumerate(labelled):
        first = ("ana-lopez", "ben-carter")[i % 2]
        out.append((s, t, label, errors, first))
        if i % 5 == 0:
            second = "ben-carter" if first == "ana-lopez" else "ana-lopez"
            flip = label == "bad" and errors == "literal" and disagreements < 2  # "understandable, let it pass"
            disagreements += flip
            out.append((s, t, "good" if flip else label, "" if flip else errors, second))
    return out


if __name__ == "__main__":
    main()
