// Worker-thread entry of `gpstoken partition`: runs partition jobs sent by the pool.
import { serveTasks } from '../util/pool.ts';
import { runPartitionJob, type PartitionJob } from './job.ts';

serveTasks<PartitionJob, Awaited<ReturnType<typeof runPartitionJob>>>(runPartitionJob);
