import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, type Repository } from 'typeorm';
import { Cluster } from './cluster.entity.js';
import type { CreateClusterRequest } from './create-cluster.pipe.js';

const UNIQUE_VIOLATION = '23505';

@Injectable()
export class ClustersService {
  constructor(@InjectRepository(Cluster) private readonly clusters: Repository<Cluster>) {}

  async list(page: number, size: number): Promise<{ items: Cluster[]; total: number }> {
    const [items, total] = await this.clusters.findAndCount({
      order: { createdAt: 'DESC', id: 'ASC' },
      skip: (page - 1) * size,
      take: size,
    });
    return { items, total };
  }

  async get(id: string): Promise<Cluster> {
    const cluster = await this.clusters.findOneBy({ id });
    if (!cluster) throw new NotFoundException(`cluster ${id} not found`);
    return cluster;
  }

  async create(request: CreateClusterRequest): Promise<Cluster> {
    try {
      return await this.clusters.save(this.clusters.create({ ...request, generation: 1 }));
    } catch (error) {
      if (
        error instanceof QueryFailedError &&
        (error.driverError as { code?: string }).code === UNIQUE_VIOLATION
      ) {
        throw new ConflictException(`a cluster named ${request.name} exists already`);
      }
      throw error;
    }
  }
}
