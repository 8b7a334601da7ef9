// Media (images, audio clips) in chat text, shared by the CLI (run, chat) and the server: the
// family's text around an image or clip (with a private slot marker where its rows go) and the
// split of rendered chat text at those slots into prompt segments.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace gemrun {

// Where an image's or audio clip's rows go in chat text (one marker for both kinds: the segments
// given to SplitAtImageSlots are in slot order). Control characters: no tokenizer piece and no
// ordinary text produces it (the server refuses requests that contain it).
constexpr std::string_view kImageSlot = "\x1fgemrun-image\x1f";

// The family's text for one image: "\n\n<start_of_image>" kImageSlot "<end_of_image>\n\n"
// (Gemma 3), "\n\n<|image>" kImageSlot "<image|>\n\n" (Gemma 4); HF processors put the blank
// lines around them and the chat template trims message ends.
std::string ImageSlotText(ChatFormat fmt);

// The text for one audio clip (Gemma 4 12B, gemma4ua): "<|audio>" kImageSlot "<audio|>", what
// llama.cpp's mtmd makes of the template's `<|audio|>` placeholder (spec gemma4-12b.md §4.3, no
// blank lines). Audio rows are decoded causally (PromptSegment::non_causal = false).
std::string AudioSlotText(ChatFormat fmt);

// Splits rendered chat text at the kImageSlot markers: text pieces are tokenized (BOS once,
// first; special tokens parsed), slot k becomes images[k] (an image or an audio clip).
// InvalidArgument when the number of slots differs from images.size().
Status SplitAtImageSlots(const Tokenizer& tok, std::string_view text, std::vector<PromptSegment> images,
                         std::vector<PromptSegment>* out);

// The whole chat prompt as segments (what run, chat and the server feed the engine): the
// template's text, and the image markers around each slot, with special tokens; message
// contents as plain text unless opts.parse_special_in_content (a user typing "<end_of_turn>"
// cannot end their turn). kImageSlot k in the contents becomes images[k]; BOS once, first.
// InvalidArgument when the number of slots differs from images.size().
Status EncodeChatPrompt(const Tokenizer& tok, const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                        const ChatOptions& opts, std::vector<PromptSegment> images, std::vector<PromptSegment>* out);

}  // namespace gemrun
