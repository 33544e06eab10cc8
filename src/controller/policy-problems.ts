// Policy files that currently fail validation, as the watcher last reported them: what the
// dashboard's banners and GET /api/pools show ("its policy file failed to reload", with file,
// line and field). A file leaves the list when it loads again or is deleted.
import type { ValidationIssue } from '../errors/errors.ts';

export interface PolicyProblem {
  file: string;
  issues: readonly ValidationIssue[];
  /** Epoch ms it was reported. */
  at: number;
}

export class PolicyProblems {
  private readonly byFile = new Map<string, PolicyProblem>();

  invalid(file: string, issues: readonly ValidationIssue[], at: number): void {
    this.byFile.set(file, { file, issues, at });
  }

  /** The file loaded, or went away. */
  clear(file: string): void {
    this.byFile.delete(file);
  }

  of(file: string): PolicyProblem | undefined {
    return this.byFile.get(file);
  }

  list(): PolicyProblem[] {
    return [...this.byFile.values()].sort((a, b) => (a.file < b.file ? -1 : 1));
  }
}
