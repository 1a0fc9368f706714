// An app's request schemas, as a Next.js route handler would validate them with Zod.
// In your app, point export-schemas.mjs at the module that exports yours.
import { z } from "zod";

export const transfer = z.object({
  amount: z.number().int().positive().max(10_000_000),
  recipientId: z.uuid(),
  note: z.string().max(200).optional(),
});

export const chat = z.object({
  messages: z
    .array(z.object({ role: z.enum(["user", "assistant"]), content: z.string().max(4000) }))
    .min(1)
    .max(50),
});
