export const up = (pgm) => {
  pgm.sql('UPDATE clusters SET generation = generation + 1');
};
