import {
  Body,
  Controller,
  DefaultValuePipe,
  Get,
  Inject,
  Param,
  ParseIntPipe,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import { ClustersService } from './clusters.service.js';
import { CreateClusterPipe, type CreateClusterRequest } from './create-cluster.pipe.js';

@Controller('clusters')
export class ClustersController {
  constructor(@Inject(ClustersService) private readonly clusters: ClustersService) {}

  @Get()
  async list(
    @Query('page', new DefaultValuePipe(1), ParseIntPipe) page: number,
    @Query('size', new DefaultValuePipe(20), ParseIntPipe) size: number,
  ) {
    const safePage = Math.max(1, page);
    const safeSize = Math.min(100, Math.max(1, size));
    const { items, total } = await this.clusters.list(safePage, safeSize);
    return { kind: 'ClusterList', page: safePage, size: safeSize, total, items };
  }

  @Get(':id')
  get(@Param('id', ParseUUIDPipe) id: string) {
    return this.clusters.get(id);
  }

  @Post()
  create(@Body(CreateClusterPipe) request: CreateClusterRequest) {
    return this.clusters.create(request);
  }
}
