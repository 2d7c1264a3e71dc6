import { Logger } from '@nestjs/common';

// Nest's per-line logs drown test output; TEST_LOGS=1 shows them again.
if (!process.env.TEST_LOGS) Logger.overrideLogger(['error']);
