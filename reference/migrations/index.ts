import { CreateClusters1732500000001 } from './1732500000001-create-clusters.js';
import { IndexClustersByCreation1732500000002 } from './1732500000002-index-clusters-by-creation.js';
import { BackfillClusterGeneration1732500000003 } from './1732500000003-backfill-cluster-generation.js';
import { ConstrainClusterNames1732500000004 } from './1732500000004-constrain-cluster-names.js';

/** The reference service's migrations, as classes: no glob loading, works the same from src and dist. */
export const referenceMigrations = [
  CreateClusters1732500000001,
  IndexClustersByCreation1732500000002,
  BackfillClusterGeneration1732500000003,
  ConstrainClusterNames1732500000004,
];
