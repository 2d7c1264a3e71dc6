import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/** A cluster of the reference service (schema: migrations/1732500000001-create-clusters.ts). */
@Entity({ name: 'clusters' })
export class Cluster {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', default: 'Cluster' })
  kind!: string;

  @Column({ type: 'jsonb', default: {} })
  spec!: Record<string, unknown>;

  @Column({ type: 'integer', default: 0 })
  generation!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
