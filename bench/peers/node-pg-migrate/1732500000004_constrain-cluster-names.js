export const up = (pgm) => {
  pgm.sql('ALTER TABLE clusters ADD CONSTRAINT clusters_name_key UNIQUE (name)');
  pgm.sql(`ALTER TABLE clusters ADD CONSTRAINT clusters_name_dns_label
    CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 63)`);
};
