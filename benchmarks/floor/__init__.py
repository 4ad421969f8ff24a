"""Two 8-route prototypes, the same routes: FastAPI + Mangum (what the HTTP functions use) and
Powertools' ``APIGatewayRestResolver`` (the floor). ``benchmarks/coldstart.py`` cold-starts both."""
