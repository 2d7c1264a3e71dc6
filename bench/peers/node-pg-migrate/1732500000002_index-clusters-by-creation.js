export const up = (pgm) => {
  pgm.sql('CREATE INDEX clusters_created_at_idx ON clusters (created_at DESC, id)');
};
