-- The extensions every later migration relies on (gen_random_uuid() is built in).
CREATE EXTENSION IF NOT EXISTS vector;
