// The reference migrations in node-pg-migrate's format, for the peer comparison (same SQL).
export const up = (pgm) => {
  pgm.sql(`CREATE TABLE clusters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, kind text NOT NULL DEFAULT 'Cluster',
    spec jsonb NOT NULL DEFAULT '{}'::jsonb, generation integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`);
  pgm.sql(`INSERT INTO clusters (name, spec) VALUES ('default', '{"provider": "local"}')`);
};
