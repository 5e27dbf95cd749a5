/** What a build reports while it runs; the CLI renders these as plain lines or JSON. */
export type BuildEvent =
  | { type: 'step'; step: number; stage: string; line: number; text: string }
  | { type: 'cached'; step: number }
  | { type: 'output'; step: number; data: string }
  | { type: 'done'; step: number; seconds: number; layerBytes?: number }
  | { type: 'failed'; step: number; message: string; output: string }
  | { type: 'image'; id: string; tags: string[] };

export type BuildListener = (e: BuildEvent) => void;
