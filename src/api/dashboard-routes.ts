// The dashboard: GET / is its page, /dashboard/* its script and stylesheet, read from
// src/api/dashboard/ as they are (no build step). A Content-Security-Policy lets the page load
// and fetch only from gridhost itself, so it works without, and never reaches, the internet.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Response } from 'express';

export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');

export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function secure(res: Response): void {
  res.set('Content-Security-Policy', DASHBOARD_CSP);
  res.set('X-Content-Type-Options', 'nosniff');
  res.set('Referrer-Policy', 'no-referrer');
  // The page is tiny and changes with gridhost: revalidate rather than serve a stale copy.
  res.set('Cache-Control', 'no-cache');
}

export function serveDashboard(route: (path: string, methods: { get: RequestHandler[] }) => void, app: express.Express): void {
  const page = readFileSync(join(DASHBOARD_DIR, 'index.html'));
  route('/', {
    get: [(_req, res) => {
      secure(res);
      res.type('html').send(page);
    }],
  });
  app.use('/dashboard', express.static(DASHBOARD_DIR, {
    index: false,
    redirect: false,
    dotfiles: 'deny',
    setHeaders: (res) => secure(res as Response),
  }));
}
